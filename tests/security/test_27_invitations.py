"""27. Invitations (issue 16): a link that works once, for its own user, never leaks, and
never skips the code step.

Browsers on the live server open the emailed link and post its form as a person would:
two at once with the same link (exactly one sets a password), a link revoked while its form
is open, another client's admin and a manager reaching for invitations they may not touch
(answered as missing or refused, nothing sent), and the whole way from the email to the
first session with every log record, the audit trail and every page read for the token.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import close_old_connections

from deskgate.accounts import actions
from deskgate.accounts.actions import invitations
from deskgate.accounts.models import AuditEvent, Invitation, User
from tests.accounts.test_invitations import CHOSEN, by, token_sent_to
from tests.mailbox import last_code
from tests.security.conftest import Browser, full_sign_in, sessions_of, visible_text
from tests.security.test_06_leaks import every_log_record  # noqa: F401  # a fixture

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/signin/invitation/"


def open_link(browser: Browser, token: str) -> str:
    """Open the emailed link; answer the form page's CSRF token."""
    first = browser.get(f"{PAGE}?t={token}")
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert token not in first.headers["Location"]
    return browser.csrf_token(PAGE)


def choose(browser: Browser, csrf: str, password: str = CHOSEN):
    return browser.post(PAGE, {"new_password": password, "confirm_password": password}, csrf=csrf)


def _post(person: Browser, csrf: str, password: str) -> int:
    try:
        return choose(person, csrf, password).status_code
    finally:
        close_old_connections()


def test_two_browsers_with_one_link_exactly_one_sets_the_password(browser, user_factory):
    admin = user_factory("admin")
    user = user_factory("agent", "off", password=None)
    for _round in range(3):
        Invitation.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).update(password="!", must_change_password=True)
        user.refresh_from_db()
        invitations.invite(user, by=by(admin))
        token = token_sent_to(user)
        sessions_before = sessions_of(user)
        people = [browser(), browser()]
        tokens = [open_link(b, token) for b in people]
        passwords = [f"first person's passphrase {_round}", f"second person's passphrase {_round}"]

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(_post, people, tokens, passwords))
        assert sorted(answers) == [302, 410], answers
        winner = answers.index(302)
        user.refresh_from_db()
        assert user.check_password(passwords[winner])
        assert not user.check_password(passwords[1 - winner])
        assert sessions_of(user) == sessions_before + 1
        assert Invitation.objects.get(user=user).accepted_at is not None


def test_the_code_step_is_never_skipped(browser, user_factory):
    admin = user_factory("admin")
    user = user_factory("agent", "sms", password=None)
    invitations.invite(user, by=by(admin))
    person = browser()
    answer = choose(person, open_link(person, token_sent_to(user)))
    assert answer.status_code == 302 and answer.headers["Location"] == "/signin/code/"
    assert person.whoami() is None and sessions_of(user) == 0
    # Straight to the pages behind the code: nothing.
    assert person.get("/account/").status_code == 302
    done = person.submit_code(last_code(user))
    assert done.headers["Location"] == "/" and person.whoami() == user.full_name


def test_a_link_revoked_while_its_form_is_open_sets_nothing(browser, user_factory):
    admin = user_factory("admin")
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin))
    person = browser()
    csrf = open_link(person, token_sent_to(user))
    actions.revoke_invitation(user, by=by(admin))
    answer = choose(person, csrf)
    assert answer.status_code == 410 and "no longer works" in visible_text(answer)
    user.refresh_from_db()
    assert not user.has_usable_password() and sessions_of(user) == 0


def test_another_clients_admin_finds_no_invitation_to_touch(browser, user_factory, tenant_factory):
    admin = user_factory("admin")
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin))
    sent = len(mail.outbox)
    elsewhere = tenant_factory("Elsewhere")
    stranger = full_sign_in(browser(), user_factory("admin", client=elsewhere))
    missing = user_factory("agent", client=elsewhere)
    for path in ("send", "revoke"):
        theirs = stranger.post(f"/users/{user.pk}/invitation/{path}/", {}, form="/users/")
        nobody = stranger.post(f"/users/{missing.pk + 1000}/invitation/{path}/", {}, form="/users/")
        assert theirs.status_code == nobody.status_code == 404
    assert len(mail.outbox) == sent
    live = Invitation.objects.get(user=user)
    assert live.voided_at is None and live.accepted_at is None


def test_a_manager_cannot_resend_an_admins_invitation(browser, user_factory):
    owner = user_factory("admin")
    new_admin = user_factory("admin", password=None)
    invitations.invite(new_admin, by=by(owner))
    sent = len(mail.outbox)
    manager = full_sign_in(browser(), user_factory("manager"))
    answer = manager.post(f"/users/{new_admin.pk}/invitation/send/", {}, form="/users/")
    assert answer.status_code == 403
    revoke = manager.post(f"/users/{new_admin.pk}/invitation/revoke/", {}, form="/users/")
    assert revoke.status_code == 403
    assert len(mail.outbox) == sent
    assert Invitation.objects.get(user=new_admin).voided_at is None


def test_the_token_is_in_no_log_no_audit_event_and_no_page(
    browser,
    user_factory,
    every_log_record,  # noqa: F811  # the fixture imported above
):
    admin = full_sign_in(browser(), user_factory("admin"))
    created = admin.post(
        "/users/create/",
        {
            "username": "new.agent",
            "full_name": "New Agent",
            "level": "agent",
            "employment": "active",
            "email": "new.agent@example.com",
            "work_phone": "",
            "mfa_method": "email",
            "password": "",
            "invite": "on",
        },
    )
    assert created.status_code == 302
    user = User.objects.get(username="new.agent")
    token = token_sent_to(user)
    person = browser()
    answer = choose(person, open_link(person, token))
    assert answer.headers["Location"] == "/signin/code/"
    assert person.submit_code(last_code(user)).headers["Location"] == "/"
    again = browser()
    again.get(f"{PAGE}?t={token}")
    assert "used already" in visible_text(again.get(PAGE))
    logs = "\n".join(text for _name, text in every_log_record)
    assert token not in logs
    trail = str(list(AuditEvent.objects.values_list("summary", "detail", "actor_label")))
    assert token not in trail and CHOSEN not in trail and CHOSEN not in logs
    assert not Invitation.objects.filter(token_hash=token).exists()
    for response in browser.seen:
        assert token not in response.text
        assert token not in response.headers.get("Location", "")


def test_eight_threads_accepting_one_invitation_one_wins(user_factory):
    from tests.signin.test_code_concurrency import in_parallel

    admin = user_factory("admin")
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin))
    found, _state = invitations.look_up(token_sent_to(user))
    assert found is not None
    won = in_parallel(
        8,
        lambda i: actions.accept_invitation(found, f"passphrase number {i} of eight", by=by(user)),
    )
    assert won.count(True) == 1
    user.refresh_from_db()
    assert user.check_password(f"passphrase number {won.index(True)} of eight")
    assert AuditEvent.objects.filter(action="invitation.accepted", subject=user).count() == 1
