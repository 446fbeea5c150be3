"""Helpers for the accounts tests: the database's state, the R4 invariant, and the world
the action tests act in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from deskgate.accounts import actions, contact
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import (
    AuditEvent,
    Client,
    MessageTemplate,
    MfaMethod,
    User,
    UserSession,
)

State = dict[str, list[Mapping[str, Any]]]  # rows as .values() gives them


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


# --- the world the action tests act in (tests/accounts/test_actions_*.py) -----------------

IP = "203.0.113.7"
NEW_EMAIL = "aki.new@example.org"
NEW_PHONE = "+358409990011"


def by(user: User) -> Actor:
    """`user` acting through the web pages, from IP."""
    return Actor(user=user, ip=IP)


def edited(user: User, **changes: Any) -> actions.UserInput:
    """`user`'s fields as stored in `user`, with `changes` made: an edit form's input."""
    data = actions.UserInput.of(user)
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def new_input(level: str = "agent", **fields: Any) -> actions.UserInput:
    """A new user's input that every rule accepts, but for `fields`."""
    base = {
        "username": "new.user",
        "full_name": "New User",
        "level": level,
        "email": "new.user@example.com",
        "work_phone": "+358405550000",
    }
    return actions.UserInput(**{**base, **fields})


@dataclass
class World:
    """Two 25.x clients and an 11.x one, with the people the tests act as and on."""

    tenant: Client
    admin: User
    manager: User
    team_leader: User
    agent: User
    texter: User
    southwind: Client
    south_admin: User
    south_agent: User
    legacy: Client
    legacy_agent: User


@pytest.fixture
def world(
    tenant: Client,
    tenant_factory: Callable[..., Client],
    legacy_tenant: Client,
    user_factory: Callable[..., User],
    admin_user: User,
) -> World:
    southwind = tenant_factory("Southwind")
    return World(
        tenant=tenant,
        admin=admin_user,
        manager=user_factory("manager", username="mia.manager", full_name="Mia Manager"),
        team_leader=user_factory("team_leader", username="tom.lead", full_name="Tom Lead"),
        agent=user_factory(
            "agent",
            username="aki.agent",
            full_name="Aki Agent",
            email="aki@example.com",
            work_phone="+358401234567",
        ),
        texter=user_factory(
            "agent",
            "sms",
            username="tea.texter",
            full_name="Tea Texter",
            email="tea@example.com",
            work_phone="+358407654321",
        ),
        southwind=southwind,
        south_admin=user_factory("admin", client=southwind, username="sam.south"),
        south_agent=user_factory("agent", client=southwind, username="sid.south"),
        legacy=legacy_tenant,
        legacy_agent=user_factory("agent", client=legacy_tenant, username="leo.legacy"),
    )
