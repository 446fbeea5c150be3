"""The delivery, accounts and SSO apps' typed settings: read when asked, checked at start-up.

(The sign-in app's are in tests/signin/test_app_settings.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured

from deskgate.accounts.app_settings import app_settings as accounts
from deskgate.conf import KannelConfig
from deskgate.delivery.app_settings import app_settings as delivery
from deskgate.sso.app_settings import app_settings as sso

CHECKS = {"deskgate.E102", "deskgate.E103", "deskgate.E104"}


def _errors() -> list[str]:
    return [m.msg for m in run_checks() if isinstance(m, Error) and m.id in CHECKS]


def test_the_shipped_settings_pass_the_start_up_check() -> None:
    assert _errors() == []
    assert accounts.IDLE_TIMEOUT.admin_pages == 30 * 60
    assert accounts.IDLE_TIMEOUT.other == 8 * 3600
    assert sso.SSO.failure_seconds == 45
    assert sso.SSO.lease_wait_seconds == 0.5


def test_a_changed_setting_is_read_at_once(settings: Any) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 2, "client": 3, "platform": 4}
    settings.DESKGATE_IDLE_TIMEOUT = {"admin_pages": 60, "other": 120}
    settings.DESKGATE_PASSWORD_HASH = {"memory_cost": 16, "time_cost": 3, "parallelism": 2}
    settings.DESKGATE_SSO = {**settings.DESKGATE_SSO, "fetch_seconds": 1, "endpoint_hosts": []}
    settings.DESKGATE_SMS = KannelConfig("127.0.0.1", 9, "u", "p", "Deskgate", False)
    settings.DESKGATE_OUTBOX_PAGE = False
    caps = delivery.SEND_CAPS
    assert (caps.user, caps.client, caps.platform) == (2, 3, 4)
    assert accounts.IDLE_TIMEOUT.other == 120
    assert accounts.PASSWORD_HASH.parallelism == 2
    assert sso.SSO.fetch_seconds == 1.0
    assert sso.SSO.endpoint_hosts == ()
    assert delivery.SMS is not None and delivery.SMS.port == 9
    assert delivery.OUTBOX_PAGE is False


@pytest.mark.parametrize(
    ("name", "change", "words"),
    [
        ("DESKGATE_SEND_CAPS", {"user": "ten"}, "DESKGATE_SEND_CAPS['user'] must be a whole"),
        ("DESKGATE_SEND_CAPS", {"client": -1}, "DESKGATE_SEND_CAPS['client'] must be at least 0"),
        ("DESKGATE_IDLE_TIMEOUT", {"other": 0}, "DESKGATE_IDLE_TIMEOUT['other'] must be at least"),
        ("DESKGATE_IDLE_TIMEOUT", {"admin_pages": 1.5}, "DESKGATE_IDLE_TIMEOUT['admin_pages']"),
        ("DESKGATE_PASSWORD_HASH", {"memory_cost": 4}, "DESKGATE_PASSWORD_HASH['memory_cost']"),
        ("DESKGATE_SSO", {"fetch_seconds": 0}, "DESKGATE_SSO['fetch_seconds'] must be more than"),
        ("DESKGATE_SSO", {"lease_wait_seconds": "1"}, "DESKGATE_SSO['lease_wait_seconds'] must"),
        ("DESKGATE_SSO", {"allow_http_loopback": "0"}, "DESKGATE_SSO['allow_http_loopback'] must"),
        ("DESKGATE_SSO", {"endpoint_hosts": "a.example"}, "DESKGATE_SSO['endpoint_hosts'] must"),
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
    settings.DESKGATE_SEND_CAPS = {"user": 10, "client": 10}
    settings.DESKGATE_SMS_TIMEOUT = "5s"
    settings.DESKGATE_OUTBOX_PAGE = "yes"
    settings.DESKGATE_IDLE_TIMEOUT = 1800
    # The checks run in the order the apps registered them: compare as a set.
    assert sorted(_errors()) == sorted(
        [
            "DESKGATE_SEND_CAPS has no 'platform'.",
            "DESKGATE_SMS_TIMEOUT must be a number of seconds, not '5s'.",
            "DESKGATE_OUTBOX_PAGE must be True or False, not 'yes'.",
            "DESKGATE_IDLE_TIMEOUT must be a dict of settings, not 1800.",
        ]
    )
    settings.DESKGATE_SSO = None
    with pytest.raises(ImproperlyConfigured, match="DESKGATE_SSO must be a dict"):
        sso.SSO  # noqa: B018  # the property is the call


def test_a_bad_sms_gateway_is_named_without_its_value(settings: Any) -> None:
    settings.DESKGATE_SMS = "kannel://user:hunter2@127.0.0.1:13013"
    errors = _errors()
    assert errors == [
        "DESKGATE_SMS must be None or a Kannel gateway (deskgate.conf.KannelConfig), not str."
    ]
    assert "hunter2" not in errors[0]
