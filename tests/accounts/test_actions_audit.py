"""Every change an action makes writes the right audit event (R9), with destinations masked
and nothing secret in it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from deskgate.accounts import actions, contact
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.conftest import IP, NEW_EMAIL, NEW_PHONE, World, by, edited, new_input
from tests.conftest import PASSWORD

AKI_COM = "a\u2022\u2022\u2022\u2022@example.com"  # aki@example.com, masked
AKI_ORG = "a\u2022\u2022\u2022\u2022@example.org"


@dataclass
class Audited:
    write: Callable[[World], object]
    events: list[tuple[str, dict[str, Any]]]  # action, and what its detail holds


AUDIT_TABLE = {
    "mfa-to-email": Audited(
        lambda w: actions.change_mfa_method(w.agent, "email", by=by(w.admin)),
        [
            (
                "user.mfa_changed",
                {"before": "off", "after": "email", "destination": AKI_COM},
            )
        ],
    ),
    "mfa-to-sms": Audited(
        lambda w: actions.change_mfa_method(w.agent, "sms", by=by(w.admin)),
        [
            (
                "user.mfa_changed",
                {"after": "sms", "destination": contact.mask_phone("+358401234567")},
            )
        ],
    ),
    "mfa-off": Audited(
        lambda w: actions.change_mfa_method(w.texter, "off", by=by(w.admin)),
        [("user.mfa_changed", {"before": "sms", "after": "off", "destination": ""})],
    ),
    "email-changed": Audited(
        lambda w: actions.update_user(w.agent, edited(w.agent, email=NEW_EMAIL), by=by(w.admin)),
        [
            (
                "user.contact_changed",
                {"email": {"before": AKI_COM, "after": AKI_ORG}},
            )
        ],
    ),
    "work-phone-changed": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, work_phone="040 999 0011"), by=by(w.admin)
        ),
        [
            (
                "user.contact_changed",
                {
                    "work_phone": {
                        "before": contact.mask_phone("+358401234567"),
                        "after": contact.mask_phone(NEW_PHONE),
                    }
                },
            )
        ],
    ),
    "email-and-mfa-together": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, email=NEW_EMAIL, mfa_method="email"), by=by(w.admin)
        ),
        [
            ("user.mfa_changed", {"destination": AKI_ORG}),
            ("user.contact_changed", {"email": {"before": AKI_COM, "after": AKI_ORG}}),
        ],
    ),
    "deactivated": Audited(
        lambda w: actions.set_user_active(w.agent, False, by=by(w.admin)),
        [("user.deactivated", {})],
    ),
    "level-and-name": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, level="team_leader", full_name="Aki Lead"), by=by(w.admin)
        ),
        [("user.details_changed", {"fields": ["full_name", "level"], "level": "team_leader"})],
    ),
    "temporary-password": Audited(
        lambda w: actions.set_password(
            w.agent, "brand new temporary words", by=by(w.admin), temporary=True
        ),
        [("user.password_set", {})],
    ),
    "nothing-changed": Audited(
        lambda w: actions.update_user(w.agent, edited(w.agent), by=by(w.admin)),
        [],
    ),
}


def _texts(events: list[AuditEvent]) -> str:
    return json.dumps(
        [[e.summary, e.actor_label, e.subject_label, e.detail] for e in events], ensure_ascii=False
    )


def _assert_nothing_secret(text: str, *phones: str, emails: tuple[str, ...] = ()) -> None:
    for phone in phones:
        national = phone[4:]  # after +358
        assert phone not in text and phone.lstrip("+") not in text
        assert national not in text and "0" + national not in text
        assert contact.format_phone(phone) not in text
    for email in emails:
        assert email not in text
    for password in (PASSWORD, "brand new temporary words"):
        assert password not in text


@pytest.mark.parametrize("case", AUDIT_TABLE.values(), ids=AUDIT_TABLE.keys())
def test_every_change_writes_its_audit_event(world: World, case: Audited) -> None:
    start = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    case.write(world)
    events = list(AuditEvent.objects.filter(pk__gt=start).order_by("pk"))
    assert [e.action for e in events] == [action for action, _ in case.events]
    for event, (_, detail) in zip(events, case.events, strict=True):
        assert event.client == world.tenant
        assert event.actor == world.admin and event.actor_label == world.admin.label
        assert event.subject_id == world.agent.pk or event.subject_id == world.texter.pk
        assert event.ip == IP
        assert event.detail["via"] == "web"
        for key, value in detail.items():
            assert event.detail[key] == value, key
    _assert_nothing_secret(
        _texts(events),
        "+358401234567",
        "+358407654321",
        NEW_PHONE,
        emails=("aki@example.com", NEW_EMAIL, "tea@example.com"),
    )


def test_created_user_audit_masks_destinations(tenant: Client, admin_user: User) -> None:
    saved = actions.create_user(
        tenant,
        new_input(email="new.user@example.com", work_phone="040 555 0000", mfa_method="sms"),
        by=by(admin_user),
        password="a perfectly long first secret",
    )
    event = AuditEvent.objects.get(action="user.created", subject=saved.user)
    assert event.actor == admin_user and event.ip == IP
    assert event.detail["email"] == "n\u2022\u2022\u2022\u2022@example.com"
    assert event.detail["work_phone"] == contact.mask_phone("+358405550000")
    assert event.detail["mfa_method"] == "sms" and event.detail["level"] == "agent"
    _assert_nothing_secret(_texts([event]), "+358405550000", emails=("new.user@example.com",))
    assert "a perfectly long first secret" not in _texts([event])


def test_operator_writes_are_attributed_to_the_command_line(tenant: Client) -> None:
    saved = actions.create_user(tenant, new_input(), by=OPERATOR)
    event = AuditEvent.objects.get(action="user.created", subject=saved.user)
    assert event.actor is None
    assert event.actor_label == "operator (command line)"
    assert event.detail["via"] == "cli"
    assert AuditEvent.objects.filter(action="client.created", client=tenant).exists()
