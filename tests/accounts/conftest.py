"""Helpers for the accounts tests: the database's state, and the R4 invariant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from deskgate.accounts import contact
from deskgate.accounts.models import (
    AuditEvent,
    Client,
    MessageTemplate,
    MfaMethod,
    User,
    UserSession,
)

State = dict[str, list[dict[str, Any]]]


def database_state() -> State:
    """Every row the accounts layer writes, so a refusal can be shown to have written none."""
    return {
        "clients": list(Client.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values()),
        "templates": list(MessageTemplate.objects.order_by("pk").values()),
        "audit": list(AuditEvent.objects.order_by("pk").values()),
        "user_sessions": list(UserSession.objects.order_by("pk").values()),
        "sessions": list(Session.objects.order_by("pk").values("session_key")),
    }


@pytest.fixture
def db_state(db: None) -> Callable[[], State]:
    return database_state


def shared_recipients(client: Client) -> list[str]:
    """R4 violations in `client`: active users whose MFA destination another active user has."""
    active = list(User.objects.filter(client=client, is_active=True))
    found = []
    for user in active:
        for other in active:
            if other.pk == user.pk:
                continue
            if user.mfa_method == MfaMethod.EMAIL and contact.email_key(
                other.email
            ) == contact.email_key(user.email):
                found.append(f"{user.username} and {other.username} share {user.email}")
            if user.mfa_method == MfaMethod.SMS and other.work_phone == user.work_phone:
                found.append(f"{user.username} and {other.username} share {user.work_phone}")
    return found
