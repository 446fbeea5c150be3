"""17. Change notices and every other message go through the send caps (issue 10 item 2).

Every message Deskgate sends (sign-in codes, contact confirmation codes, notices of changed
sign-in settings, password reset links) counts against the same hourly caps per user, per
client and for the platform, and an SMS respects the client's country allow-list. A notice
that is capped or refused is dropped and audited, never raised; a bulk run tells each
person once.
"""

from __future__ import annotations

import pytest
from django.core import mail

from deskgate.accounts import actions, notify
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent, Client
from deskgate.delivery import caps, channels
from deskgate.delivery.models import OutboxMessage, SendCounter
from deskgate.signin import reset, reset_delivery

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER_A = "+358401110171"
NUMBER_B = "+358401110172"
SWEDISH_MOBILE = "+46701234567"


def sms_to(number: str) -> int:
    return OutboxMessage.objects.filter(channel="sms", to=number).count()


def all_sms() -> int:
    return OutboxMessage.objects.filter(channel="sms").count()


def test_twelve_work_phone_switches_send_at_most_the_per_user_cap(
    user_factory, admin_user, settings
) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 10, "client": 5000, "platform": 50000}
    # No Email: the notice goes by SMS to the number the user had.
    agent = user_factory("agent", "sms", email="", work_phone=NUMBER_A)
    admin = Actor(user=admin_user, ip="10.0.0.1")
    for i in range(12):
        data = actions.UserInput.of(agent)
        data.work_phone = NUMBER_B if i % 2 == 0 else NUMBER_A
        actions.update_user(agent, data, by=admin)
        agent.refresh_from_db()
    assert all_sms() == 10
    assert SendCounter.objects.get(scope=f"user:{agent.pk}").count == 10
    assert AuditEvent.objects.filter(action="user.notified", subject=agent).count() == 10
    capped = AuditEvent.objects.filter(action="user.notice_capped", subject=agent)
    assert capped.count() == 2
    assert all("hourly limit" in e.summary for e in capped)


def test_notices_count_against_the_same_caps_as_codes(user_factory, admin_user, settings) -> None:
    """A notice takes from the client's and platform's hour as a code does (and may use half
    of it: here 2 of 4)."""
    settings.DESKGATE_SEND_CAPS = {"user": 10, "client": 4, "platform": 50000}
    agents = [user_factory("agent", "sms", email="") for _ in range(3)]
    admin = Actor(user=admin_user)
    for agent in agents:
        actions.change_mfa_method(agent, "off", by=admin)
    assert all_sms() == 2
    assert SendCounter.objects.get(scope=f"client:{agents[0].client_id}").count == 2
    assert AuditEvent.objects.filter(action="user.notice_capped").count() == 1


def test_a_bulk_run_tells_each_person_once(user_factory, admin_user, tenant) -> None:
    agents = [user_factory("agent", "sms", email="") for _ in range(3)]
    admin = Actor(user=admin_user)
    for method in ("off", "sms", "off", "sms", "off", "sms"):  # six bulk toggles
        before = all_sms()
        outcomes = actions.bulk_change_mfa_method(tenant, agents, method, by=admin)
        assert all(o.applied for o in outcomes)
        # SMS to Off tells the old number; Off to SMS has nowhere else to tell.
        assert all_sms() - before == (3 if method == "off" else 0)
        for agent in agents:
            agent.refresh_from_db()
    for agent in agents:
        assert sms_to(agent.work_phone) == 3
        assert SendCounter.objects.get(scope=f"user:{agent.pk}").count == 3


def test_several_changes_in_one_batch_send_one_notice(user_factory, admin_user) -> None:
    agent = user_factory("agent", "sms", email="", work_phone=NUMBER_A)
    admin = Actor(user=admin_user)
    with notify.batched():
        for number in (NUMBER_B, NUMBER_A, NUMBER_B):
            data = actions.UserInput.of(agent)
            data.work_phone = number
            actions.update_user(agent, data, by=admin)
            agent.refresh_from_db()
    assert all_sms() == 1
    # Told at the number it had before the first change, with the state after the last.
    (text,) = OutboxMessage.objects.filter(channel="sms", to=NUMBER_A).values_list(
        "body", flat=True
    )
    assert "+358 \u2022\u2022 \u2022\u2022\u2022 \u2022\u202272" in text
    assert SendCounter.objects.get(scope=f"user:{agent.pk}").count == 1


def test_a_notice_to_a_number_outside_the_allow_list_is_not_sent(
    user_factory, admin_user, tenant
) -> None:
    agent = user_factory("agent", "sms", email="", work_phone=SWEDISH_MOBILE)
    # The client allows Finland only since the number was saved.
    Client.objects.filter(pk=tenant.pk).update(sms_countries="FI")
    agent.refresh_from_db()
    actions.change_mfa_method(agent, "off", by=Actor(user=admin_user))
    assert sms_to(SWEDISH_MOBILE) == 0
    refused = AuditEvent.objects.get(action="user.notice_refused_country", subject=agent)
    assert SWEDISH_MOBILE not in refused.summary
    assert not SendCounter.objects.exists()  # nothing was counted either


def test_a_password_reset_link_counts_against_the_same_caps(user_factory, tenant, settings) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 1, "client": 5000, "platform": 50000}
    Client.objects.filter(pk=tenant.pk).update(password_reset_enabled=True)
    agent = user_factory("agent", "email")
    for _ in range(2):
        reset.request_reset(agent.email, by=Actor())  # its commit starts the mail worker
        assert reset_delivery.worker.wait_idle(timeout=60)
    assert len([m for m in mail.outbox if agent.email in m.to]) == 1
    assert AuditEvent.objects.filter(action="password.reset_capped", subject=agent).count() == 1


def test_no_channel_sends_without_a_permit_from_the_caps() -> None:
    """The gate is in the channels: a sender that skips `caps.admit` cannot send."""
    forged = caps.Permit("sms", "+358401110179")
    with pytest.raises(ValueError, match="permit"):
        channels.send_sms(forged, "hello")
    with pytest.raises(ValueError, match="permit"):
        channels.send_email(caps.Permit("email", "a@example.com"), "subject", "hello")
    assert all_sms() == 0 and mail.outbox == []


def test_notices_leave_half_of_the_clients_hour_for_codes(
    user_factory, admin_user, tenant, settings
) -> None:
    """A bulk change for every agent must not spend the codes of their shift start."""
    settings.DESKGATE_SEND_CAPS = {"user": 10, "client": 6, "platform": 50000}
    agents = [user_factory("agent", "sms", email="") for _ in range(5)]
    outcomes = actions.bulk_change_mfa_method(tenant, agents, "off", by=Actor(user=admin_user))
    assert all(o.applied for o in outcomes)
    assert all_sms() == 3  # half of the client's 6; the other two notices were capped
    assert AuditEvent.objects.filter(action="user.notice_capped").count() == 2
    recipient = notify.recipient_of(agents[0])
    for _ in range(3):  # the codes' half is still there
        assert isinstance(caps.admit(recipient, "sms", agents[0].work_phone), caps.Permit)
    assert caps.admit(recipient, "sms", agents[0].work_phone) is caps.Refusal.CLIENT
