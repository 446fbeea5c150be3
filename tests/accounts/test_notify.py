"""Notices at the old destination when an admin changes someone's sign-in settings."""

from __future__ import annotations

from django.core import mail

from deskgate.accounts import actions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent
from deskgate.delivery.models import OutboxMessage


def test_admin_change_notifies_the_old_address(
    user_factory, admin_user, django_capture_on_commit_callbacks
) -> None:
    agent = user_factory("agent", "email", email="old@example.com")
    data = actions.UserInput.of(agent)
    data.email = "new@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_user(agent, data, by=Actor(user=admin_user, ip="10.0.0.1"))
    notice = [m for m in mail.outbox if m.to == ["old@example.com"]]
    assert len(notice) == 1
    assert "changed by Anna Admin (anna.admin)" in notice[0].body
    assert "n\u2022\u2022\u2022\u2022@example.com" in notice[0].body  # the new one, masked
    assert "new@example.com" not in notice[0].body
    assert AuditEvent.objects.filter(action="user.notified", subject=agent).count() == 1


def test_without_an_email_the_old_sms_number_is_told(
    user_factory, admin_user, django_capture_on_commit_callbacks
) -> None:
    agent = user_factory("agent", "sms", email="", work_phone="+358401110031")
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_mfa_method(agent, "off", by=Actor(user=admin_user))
    sms = OutboxMessage.objects.get(channel="sms", to="+358401110031")
    assert "MFA is now Off" in sms.body


def test_a_bulk_change_sends_its_notices_together_at_the_end(
    user_factory, admin_user, tenant, django_capture_on_commit_callbacks
) -> None:
    agents = [user_factory("agent", "off") for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = actions.bulk_change_mfa_method(
            tenant, agents, "email", by=Actor(user=admin_user)
        )
    assert all(o.applied for o in outcomes)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(a.email for a in agents)
    assert AuditEvent.objects.filter(action="user.notified").count() == 3


def test_nothing_is_sent_when_nothing_that_matters_changed(
    user_factory, admin_user, django_capture_on_commit_callbacks
) -> None:
    agent = user_factory("agent", "email")
    data = actions.UserInput.of(agent)
    data.full_name = "A New Name"
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_user(agent, data, by=Actor(user=admin_user))
    assert mail.outbox == []
