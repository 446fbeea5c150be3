"""The single-use enrolment link by Email (issue 14): sent by an admin from the user page
or by the user at sign-in; with the password it sets up an authenticator app, once, within
24 hours; a new link voids the old one; only a hash of its token is stored."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client as HttpClient

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from deskgate.signin import enrolment, factors
from deskgate.signin.models import EnrolmentLink
from tests.authenticator import app_code, enrol
from tests.conftest import sign_in
from tests.signin.test_code_concurrency import in_parallel

LINK = re.compile(r"https?://\S+(/signin/enrolment-link/)\?t=([A-Za-z0-9_-]+)")
SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')
ENROL = "/signin/enrol/"


def link_sent_to(user: User) -> tuple[str, str]:
    """(path, token) of the newest set-up link emailed to the user."""
    bodies = [str(m.body) for m in mail.outbox if user.email in m.to]
    found = [m for body in bodies for m in LINK.finditer(body)]
    assert found, f"no set-up link was sent to {user.email}"
    return found[-1].group(1), found[-1].group(2)


def open_link(http: HttpClient, user: User, password: str = "") -> object:
    from tests.conftest import PASSWORD

    path, token = link_sent_to(user)
    first = http.get(path, {"t": token})
    # The token leaves the address bar at once.
    assert first.status_code == 302 and first["Location"] == path
    page = http.get(path)
    if "Give its password" not in page.content.decode():
        return page
    return http.post(path, {"password": password or PASSWORD})


def set_up_app(http: HttpClient) -> None:
    page = http.get(ENROL).content.decode()
    match = SECRET.search(page)
    assert match, page[:1500]
    done = http.post(
        ENROL, {"action": "confirm", "code": app_code(match.group(1).replace(" ", ""))}
    )
    assert "Your recovery codes" in done.content.decode()
    assert http.post(ENROL, {"action": "continue"})["Location"] == "/"


def by(user: User) -> Actor:
    return Actor(user=user, ip="127.0.0.1")


def test_admin_sends_a_link_and_the_user_sets_up_the_app(admin_http, admin_user, user_factory):
    agent = user_factory("agent", "off")
    response = admin_http.post(f"/users/{agent.pk}/enrolment-link/", follow=True)
    text = response.content.decode()
    assert "A set-up link was sent to" in text and "It works once, for 24 hours" in text
    sent = AuditEvent.objects.get(action=AuditAction.ENROLMENT_LINK_SENT, subject=agent)
    assert sent.actor == admin_user
    _, token = link_sent_to(agent)
    stored = EnrolmentLink.objects.get(user=agent)
    assert stored.token_hash != token and token not in stored.token_hash
    http = HttpClient()
    answer = open_link(http, agent)
    assert answer["Location"] == ENROL and "_auth_user_id" not in http.session
    set_up_app(http)
    assert factors.has_app(agent) and "_auth_user_id" in http.session
    assert AuditEvent.objects.filter(action=AuditAction.ENROLMENT_LINK_USED, subject=agent).exists()
    # Not in the audit trail, anywhere.
    trail = str(list(AuditEvent.objects.values_list("summary", "detail")))
    assert token not in trail
    # Used: it does not work again.
    again = HttpClient()
    page = open_link(again, agent)
    assert "This set-up link does not work" in page.content.decode()


def test_wrong_password_spends_nothing_and_counts(user_factory):
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    http = HttpClient()
    answer = open_link(http, agent, password="not the password at all")
    assert "That password is not right" in answer.content.decode()
    assert EnrolmentLink.objects.get(user=agent).used_at is None
    assert open_link(http, agent)["Location"] == ENROL


def test_another_users_password_does_not_open_the_link(user_factory):
    agent = user_factory("agent", "off")
    other = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    http = HttpClient()
    answer = open_link(http, agent, password="")  # agent's own works; check other's first
    assert answer["Location"] == ENROL
    # A second link for `agent`, tried with `other`'s (right for them) password: refused.
    enrolment.send_link(agent, by=by(agent))
    path, token = link_sent_to(agent)
    http = HttpClient()
    http.get(path, {"t": token})
    other.set_password("Other person's passphrase 42")
    other.save(update_fields=["password"])
    refused = http.post(path, {"password": "Other person's passphrase 42"})
    assert "That password is not right" in refused.content.decode()
    assert not factors.has_app(other)


def test_the_link_expires_after_24_hours(user_factory, clock):
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    clock(timedelta(hours=24, minutes=1))
    page = open_link(HttpClient(), agent)
    assert "This set-up link does not work" in page.content.decode()


def test_a_new_link_voids_the_old_one(user_factory):
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    path, old = link_sent_to(agent)
    enrolment.send_link(agent, by=by(agent))
    _, new = link_sent_to(agent)
    assert old != new
    http = HttpClient()
    http.get(path, {"t": old})
    assert "This set-up link does not work" in http.get(path).content.decode()
    assert EnrolmentLink.objects.filter(user=agent, voided_at=None).count() == 1
    assert "previous link no longer works" in (
        AuditEvent.objects.filter(action=AuditAction.ENROLMENT_LINK_SENT).latest("id").summary
    )


@pytest.mark.django_db(transaction=True)
def test_one_link_in_parallel_requests_is_used_exactly_once(user_factory):
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    _, token = link_sent_to(agent)
    link = enrolment.live_link(token)
    assert link is not None
    results = in_parallel(8, lambda i: enrolment.use_link(link, by=by(agent)))
    assert Counter(results) == {True: 1, False: 7}
    assert AuditEvent.objects.filter(action=AuditAction.ENROLMENT_LINK_USED).count() == 1


def test_user_in_policy_with_mfa_off_asks_for_a_link_at_sign_in(user_factory, tenant):
    Client.objects.filter(pk=tenant.pk).update(strong_factor_levels="admin")
    admin = user_factory("admin", "off")
    http = HttpClient()
    assert sign_in(http, admin)["Location"] == ENROL
    response = http.post(ENROL, {"action": "send_link"}, follow=True)
    assert "We sent a set-up link to" in response.content.decode()
    assert "_auth_user_id" not in http.session
    later = HttpClient()
    assert open_link(later, admin)["Location"] == ENROL
    set_up_app(later)
    assert factors.has_strong_factor(admin)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("no_email", "has no Email to send a set-up link to"),
        ("has_app", "has an authenticator app already"),
        ("legacy", "MFA is only available for clients on release 25.x"),
    ],
)
def test_refusals_say_why(user_factory, legacy_tenant, case: str, words: str):
    if case == "no_email":
        user = user_factory("agent", "sms", email="")
    elif case == "legacy":
        user = user_factory("agent", client=legacy_tenant)
    else:
        user = user_factory("agent", "email")
        enrol(user)
    with pytest.raises(ValidationError, match=words):
        enrolment.send_link(user, by=by(user))
    assert not EnrolmentLink.objects.exists() and not mail.outbox


@pytest.mark.parametrize("sender", ["agent", "team_leader", "other_admin"])
def test_only_someone_who_may_manage_the_user_sends_one(user_factory, tenant_factory, sender):
    target = user_factory("agent", "off")
    if sender == "other_admin":
        actor = user_factory("admin", client=tenant_factory("Elsewhere"))
    else:
        actor = user_factory(sender)
    with pytest.raises(PermissionDenied):
        enrolment.send_link(target, by=by(actor))
    assert not EnrolmentLink.objects.exists()


def test_send_caps_hold(user_factory, settings):
    settings.DESKGATE_SEND_CAPS = {"user": 2, "client": 100, "platform": 100}
    agent = user_factory("agent", "off")
    enrolment.send_link(agent, by=by(agent))
    enrolment.send_link(agent, by=by(agent))
    with pytest.raises(ValidationError, match="Too many messages"):
        enrolment.send_link(agent, by=by(agent))
    assert EnrolmentLink.objects.filter(user=agent).count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_sends_leave_exactly_one_live_link(user_factory):
    agent = user_factory("agent", "off")
    in_parallel(4, lambda i: enrolment.send_link(agent, by=by(agent)))
    assert EnrolmentLink.objects.filter(user=agent).count() == 4
    assert EnrolmentLink.objects.filter(user=agent, voided_at=None).count() == 1
