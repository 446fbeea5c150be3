"""The sign-in app's typed settings: read when asked, checked at start-up."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured

from deskgate.signin.app_settings import app_settings
from deskgate.signin.throttle import Backoff


def _errors() -> list[str]:
    return [m.msg for m in run_checks() if isinstance(m, Error) and m.id == "deskgate.E101"]


def test_the_shipped_settings_pass_the_start_up_check() -> None:
    assert _errors() == []
    code = app_settings.CODE
    assert (code.digits, code.lifetime_minutes, code.max_attempts) == (6, 10, 5)
    assert Backoff(after=10, steps=(60, 300, 900, 3600)) == app_settings.PASSWORD_LOCK


def test_a_changed_setting_is_read_at_once(settings: Any) -> None:
    settings.DESKGATE_CODE = settings.DESKGATE_CODE | {"lifetime": 300}
    settings.DESKGATE_SIGNIN_BUDGET = {"ip": 2, "network": 8, "window": 60}
    assert app_settings.CODE.lifetime_minutes == 5
    assert app_settings.SIGNIN_BUDGET.window == 60


@pytest.mark.parametrize(
    ("name", "change", "words"),
    [
        ("DESKGATE_CODE", {"digits": 3}, "DESKGATE_CODE['digits'] must be at least 4, not 3."),
        ("DESKGATE_CODE", {"digits": 12}, "DESKGATE_CODE['digits'] must be at most 10"),
        ("DESKGATE_CODE", {"lifetime": "ten"}, "DESKGATE_CODE['lifetime'] must be a whole"),
        ("DESKGATE_CODE", {"lock_steps": []}, "DESKGATE_CODE['lock_steps'] must list at least"),
        ("DESKGATE_CODE", {"max_attempts": 0}, "DESKGATE_CODE['max_attempts'] must be at least"),
        ("DESKGATE_PASSWORD_LOCK", {"steps": 60}, "DESKGATE_PASSWORD_LOCK['steps'] must be a list"),
        ("DESKGATE_RESET", {"mail_attempts": None}, "DESKGATE_RESET['mail_attempts'] must be"),
        ("DESKGATE_SIGNIN_BUDGET", {"ip": -1}, "DESKGATE_SIGNIN_BUDGET['ip'] must be at least 1"),
        ("DESKGATE_SIGNIN_BUDGET", {"window": True}, "DESKGATE_SIGNIN_BUDGET['window'] must be"),
    ],
)
def test_a_bad_value_stops_the_start_up_naming_the_setting(
    settings: Any, name: str, change: dict[str, Any], words: str
) -> None:
    setattr(settings, name, {**getattr(settings, name), **change})
    errors = _errors()
    assert len(errors) == 1, errors
    assert errors[0].startswith(words), errors


def test_a_missing_key_or_a_bad_shape_is_named(settings: Any) -> None:
    settings.DESKGATE_RESET = {"per_ip_hour": 5}
    settings.DESKGATE_REMEMBER_DEVICE_DAYS = "30 days"
    assert _errors() == [
        "DESKGATE_RESET has no 'per_account_hour'.",
        "DESKGATE_REMEMBER_DEVICE_DAYS must be a whole number, not '30 days'.",
    ]
    settings.DESKGATE_CODE = 6
    with pytest.raises(ImproperlyConfigured, match="DESKGATE_CODE must be a dict"):
        app_settings.CODE  # noqa: B018  # the property is the call
