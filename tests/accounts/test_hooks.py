"""accounts asks the sign-in app through `accounts.hooks`, never by importing it: the sign-in
app registers its answers at start-up, and they run inside the action's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from deskgate.accounts import actions, hooks
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, User
from deskgate.signin import challenge, devices, state
from deskgate.signin.models import PendingSignIn
from tests.accounts.conftest import State


def test_the_sign_in_app_registers_its_answers() -> None:
    registered = hooks.sign_in()
    assert registered.factor_changed is state.void_factor_state_many
    assert registered.unlock is challenge.unlock
    assert registered.revoke_devices is devices.revoke_all


def test_a_hook_nobody_registered_refuses_the_write(
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a silent no-op, as a signal without receivers would be: a changed MFA method
    # that did not void the codes sent to the old one is not written at all.
    agent = user_factory("agent", email="aki@example.com")
    now = timezone.now()
    PendingSignIn.objects.create(
        token="t" * 40, user=agent, created_at=now, expires_at=now + timedelta(minutes=10)
    )
    before = db_state()
    monkeypatch.setattr(hooks, "_registered", None)
    with pytest.raises(ImproperlyConfigured):
        actions.change_mfa_method(agent, "email", by=OPERATOR)
    assert db_state() == before
    assert PendingSignIn.objects.filter(user=agent).exists()
    assert not AuditEvent.objects.filter(action="user.mfa_changed").exists()
