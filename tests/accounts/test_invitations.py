"""Invitations by email (issue 16): the actions invite, resend, revoke, accept, and the
client's hours. Only a hash of the token is stored; a new invitation voids the old one; it
works once, until it expires; the rights are the action layer's (R10)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from deskgate.accounts import actions
from deskgate.accounts.actions import invitations
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Invitation, User

LINK = re.compile(r"https?://\S+(/signin/invitation/)\?t=([A-Za-z0-9_-]+)")
CHOSEN = "my own chosen passphrase 2026"


def token_sent_to(user: User) -> str:
    """The token of the newest invitation emailed to the user."""
    found = [m for msg in mail.outbox if user.email in msg.to for m in LINK.finditer(str(msg.body))]
    assert found, f"no invitation was sent to {user.email}"
    return found[-1].group(2)


def by(user: User) -> Actor:
    return Actor(user=user, ip="127.0.0.1")


@pytest.fixture
def newcomer(user_factory) -> User:
    """An agent created without a password, as a page with "Send an invitation" creates."""
    return user_factory("agent", "email", password=None)


def test_invite_emails_a_link_and_stores_only_its_hash(newcomer, admin_user, settings):
    settings.DESKGATE_BASE_URL = "https://id.example"
    sent = invitations.invite(newcomer, by=by(admin_user))
    assert sent.hours == 72 and "@" in sent.destination and "•" in sent.destination
    message = mail.outbox[-1]
    assert message.to == [newcomer.email]
    assert "https://id.example/signin/invitation/?t=" in message.body
    assert newcomer.username in message.body
    token = token_sent_to(newcomer)
    stored = Invitation.objects.get(user=newcomer)
    assert token not in stored.token_hash and stored.token_hash == invitations._hash(token)
    assert stored.expires_at - stored.created_at == timedelta(hours=72)
    event = AuditEvent.objects.get(action=AuditAction.USER_INVITED, subject=newcomer)
    assert event.actor == admin_user and event.detail["destination"] == sent.destination
    assert token not in str(list(AuditEvent.objects.values_list("summary", "detail")))


def test_the_email_is_in_the_users_language(newcomer, admin_user):
    User.objects.filter(pk=newcomer.pk).update(language="fi")
    newcomer.refresh_from_db()
    invitations.invite(newcomer, by=by(admin_user))
    assert "kutsu" in mail.outbox[-1].subject.lower()


def test_the_clients_hours_set_the_expiry(newcomer, admin_user, tenant):
    actions.set_invitation_hours(tenant, 5, by=by(admin_user))
    newcomer.refresh_from_db()
    sent = invitations.invite(newcomer, by=by(admin_user))
    assert sent.hours == 5
    stored = Invitation.objects.get(user=newcomer)
    assert stored.expires_at - stored.created_at == timedelta(hours=5)
    assert "within 5 hours" in mail.outbox[-1].body


@pytest.mark.parametrize("hours", [0, 721, -1])
def test_hours_out_of_range_are_refused(tenant, admin_user, hours):
    with pytest.raises(ValidationError) as refused:
        actions.set_invitation_hours(tenant, hours, by=by(admin_user))
    assert "from 1 to 720" in str(refused.value)
    tenant.refresh_from_db()
    assert tenant.invitation_hours == 72


def test_only_admins_set_the_hours(tenant, user_factory):
    manager = user_factory("manager")
    with pytest.raises(PermissionDenied):
        actions.set_invitation_hours(tenant, 10, by=by(manager))


def test_a_new_invitation_voids_the_earlier_one(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    first = token_sent_to(newcomer)
    invitations.resend_invitation(newcomer, by=by(admin_user))
    second = token_sent_to(newcomer)
    assert first != second
    assert invitations.look_up(first) == (None, invitations.LinkState.REVOKED)
    found, state = invitations.look_up(second)
    assert state == invitations.LinkState.LIVE and found is not None
    assert Invitation.objects.filter(user=newcomer, voided_at=None).count() == 1


def test_revoke_voids_the_live_invitation(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    token = token_sent_to(newcomer)
    assert actions.revoke_invitation(newcomer, by=by(admin_user)) == 1
    assert invitations.look_up(token) == (None, invitations.LinkState.REVOKED)
    assert AuditEvent.objects.filter(
        action=AuditAction.INVITATION_REVOKED, subject=newcomer
    ).exists()
    assert actions.revoke_invitation(newcomer, by=by(admin_user)) == 0  # nothing live


def test_accept_sets_the_password_once(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    token = token_sent_to(newcomer)
    found, _ = invitations.look_up(token)
    assert found is not None
    assert actions.accept_invitation(found, CHOSEN, by=by(newcomer))
    newcomer.refresh_from_db()
    assert newcomer.check_password(CHOSEN) and not newcomer.must_change_password
    assert newcomer.email_verified  # the link reached the address
    assert invitations.look_up(token) == (None, invitations.LinkState.USED)
    assert not actions.accept_invitation(found, "another passphrase 2027 x", by=by(newcomer))
    newcomer.refresh_from_db()
    assert newcomer.check_password(CHOSEN)
    assert AuditEvent.objects.filter(
        action=AuditAction.INVITATION_ACCEPTED, subject=newcomer
    ).exists()


def test_a_weak_password_is_refused_and_spends_nothing(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    found, _ = invitations.look_up(token_sent_to(newcomer))
    assert found is not None
    with pytest.raises(ValidationError) as refused:
        actions.accept_invitation(found, "short", by=by(newcomer))
    assert "password" in refused.value.message_dict
    assert Invitation.objects.get(pk=found.pk).accepted_at is None


def test_an_expired_invitation_does_not_work(newcomer, admin_user, clock):
    invitations.invite(newcomer, by=by(admin_user))
    token = token_sent_to(newcomer)
    found, _ = invitations.look_up(token)
    clock(timedelta(hours=72, seconds=1))
    assert invitations.look_up(token) == (None, invitations.LinkState.EXPIRED)
    assert found is not None and not actions.accept_invitation(found, CHOSEN, by=by(newcomer))


def test_an_unknown_token_reads_as_expired(db):
    assert invitations.look_up("x" * 43) == (None, invitations.LinkState.EXPIRED)
    assert invitations.look_up("") == (None, invitations.LinkState.EXPIRED)
    assert invitations.look_up("x" * 500) == (None, invitations.LinkState.EXPIRED)


def test_deactivating_the_user_takes_the_link_away(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    token = token_sent_to(newcomer)
    actions.set_user_active(newcomer, False, by=by(admin_user))
    assert invitations.look_up(token) == (None, invitations.LinkState.REVOKED)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda f: f("agent", "off", email="", password=None), "has no Email"),
        (lambda f: f("agent", "off", active=False, password=None), "is inactive"),
        (lambda f: f("agent", "off"), "chosen their own password"),
    ],
)
def test_refusals_say_why_and_send_nothing(user_factory, admin_user, make, words):
    user = make(user_factory)
    before = len(mail.outbox)
    with pytest.raises(ValidationError) as refused:
        invitations.invite(user, by=by(admin_user))
    assert words in str(refused.value)
    assert len(mail.outbox) == before and not Invitation.objects.filter(user=user).exists()


def test_a_user_with_a_temporary_password_may_be_invited(user_factory, admin_user):
    user = user_factory("agent", "off", temporary=True)
    invitations.invite(user, by=by(admin_user))
    found, _ = invitations.look_up(token_sent_to(user))
    assert found is not None and actions.accept_invitation(found, CHOSEN, by=by(user))
    user.refresh_from_db()
    assert not user.must_change_password


def test_rights_are_the_action_layers(newcomer, user_factory, tenant_factory):
    agent = user_factory("agent")
    with pytest.raises(PermissionDenied):
        invitations.invite(newcomer, by=by(agent))
    with pytest.raises(PermissionDenied):
        invitations.resend_invitation(newcomer, by=by(agent))
    with pytest.raises(PermissionDenied):
        invitations.revoke_invitation(newcomer, by=by(agent))
    manager = user_factory("manager")
    invitations.resend_invitation(newcomer, by=by(manager))  # below their level: may
    admin = user_factory("admin", password=None)
    with pytest.raises(PermissionDenied):
        invitations.resend_invitation(admin, by=by(manager))
    other = tenant_factory("Elsewhere")
    stranger = user_factory("admin", client=other)
    with pytest.raises(PermissionDenied):
        invitations.revoke_invitation(newcomer, by=by(stranger))


def test_the_send_cap_refuses_with_the_reason(newcomer, admin_user, settings):
    settings.DESKGATE_SEND_CAPS = {**settings.DESKGATE_SEND_CAPS, "user": 1}
    invitations.invite(newcomer, by=by(admin_user))
    with pytest.raises(ValidationError) as refused:
        invitations.resend_invitation(newcomer, by=by(admin_user))
    assert "Too many messages were sent to this user" in str(refused.value)
    assert Invitation.objects.filter(user=newcomer).count() == 1


def test_a_mail_server_failure_stores_nothing(newcomer, admin_user, monkeypatch):
    from deskgate.delivery import channels

    def refuse(*args, **kwargs):
        raise channels.DeliveryError("refused")

    monkeypatch.setattr(channels, "send_email", refuse)
    with pytest.raises(ValidationError) as refused:
        invitations.invite(newcomer, by=by(admin_user))
    assert "did not accept the message" in str(refused.value)
    assert not Invitation.objects.filter(user=newcomer).exists()


def test_correcting_the_email_takes_the_old_link_away(newcomer, admin_user):
    invitations.invite(newcomer, by=by(admin_user))
    token = token_sent_to(newcomer)
    found, _ = invitations.look_up(token)
    actions.change_user(newcomer, by=by(admin_user), email="right.address@example.com")
    assert invitations.look_up(token) == (None, invitations.LinkState.REVOKED)
    assert found is not None and not actions.accept_invitation(found, CHOSEN, by=by(newcomer))
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()
    assert Invitation.objects.get(pk=found.pk).accepted_at is None  # rolled back
