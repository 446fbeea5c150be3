"""The invitation page (issue 16): open the emailed link, choose a password (Django's
validators, the project's length for the user's factors), prove the MFA destination with a
code at the ordinary code step, and be signed in; expired, used and revoked links say so."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.actions import invitations
from deskgate.accounts.models import AuditAction, AuditEvent, User
from deskgate.signin.models import PendingSignIn
from tests.accounts.test_invitations import CHOSEN, by, token_sent_to
from tests.mailbox import last_code

PAGE = "/signin/invitation/"


def open_invitation(http: HttpClient, user: User) -> str:
    token = token_sent_to(user)
    first = http.get(PAGE, {"t": token})
    # The token leaves the address bar at once.
    assert first.status_code == 302 and first["Location"] == PAGE
    return http.get(PAGE).content.decode()


def main_of(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def choose(http: HttpClient, password: str = CHOSEN, again: str | None = None):
    return http.post(
        PAGE, {"new_password": password, "confirm_password": password if again is None else again}
    )


@pytest.mark.parametrize("method", ["email", "sms"])
def test_invited_user_chooses_a_password_proves_the_code_and_is_signed_in(
    user_factory, admin_user, method
):
    user = user_factory("agent", method, password=None)
    invitations.invite(user, by=by(admin_user))
    http = HttpClient()
    page = open_invitation(http, user)
    assert "Choose your password" in page and user.username in page
    assert "we send a code to your MFA destination" in page
    answer = choose(http)
    assert answer["Location"] == "/signin/code/" and "_auth_user_id" not in http.session
    code = last_code(user)  # sent to the Email or the Work phone, as the method says
    done = http.post("/signin/code/", {"action": "verify", "code": code})
    assert done["Location"] == "/" and http.session["_auth_user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.check_password(CHOSEN) and not user.must_change_password
    assert AuditEvent.objects.filter(action=AuditAction.CODE_SENT, subject=user).exists()
    assert AuditEvent.objects.filter(action=AuditAction.SIGNIN_SUCCESS, subject=user).exists()
    # From now on the person signs in the ordinary way.
    again = HttpClient()
    step = again.post("/signin/", {"username": user.username, "password": CHOSEN})
    assert step["Location"] == "/signin/code/"


def test_without_mfa_the_person_is_signed_in_after_the_password(user_factory, admin_user):
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    http = HttpClient()
    open_invitation(http, user)
    assert choose(http)["Location"] == "/"
    assert http.session["_auth_user_id"] == str(user.pk)


def test_the_password_rules_apply_and_keep_the_link(user_factory, admin_user):
    user = user_factory("agent", "off", password=None)  # no code: 15 characters at least
    invitations.invite(user, by=by(admin_user))
    http = HttpClient()
    open_invitation(http, user)
    short = choose(http, "eight ch").content.decode()
    assert "at least 15 characters" in short.lower() or "15" in short
    mismatch = choose(http, CHOSEN, again=CHOSEN + "x").content.decode()
    assert "The two passwords are not the same" in mismatch
    name = choose(http, f"{user.username}{user.username}").content.decode()
    assert "Choose your password" in name
    assert choose(http)["Location"] == "/"


def test_a_used_link_says_so(user_factory, admin_user):
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    http = HttpClient()
    open_invitation(http, user)
    choose(http)
    other = HttpClient()
    page = open_invitation(other, user)
    assert "This invitation was used already" in page


def test_revoked_and_replaced_links_say_so(user_factory, admin_user):
    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    first = token_sent_to(user)
    actions.resend_invitation(user, by=by(admin_user))
    http = HttpClient()
    http.get(PAGE, {"t": first})
    page = http.get(PAGE)
    assert page.status_code == 410
    assert "This invitation no longer works" in page.content.decode()
    actions.revoke_invitation(user, by=by(admin_user))
    assert "no longer works" in open_invitation(HttpClient(), user)


def test_an_expired_link_and_a_made_up_one_answer_alike(user_factory, admin_user, clock):
    from datetime import timedelta

    user = user_factory("agent", "off", password=None)
    invitations.invite(user, by=by(admin_user))
    clock(timedelta(hours=73))
    expired = HttpClient()
    expired_page = open_invitation(expired, user)
    made_up = HttpClient()
    made_up.get(PAGE, {"t": "A" * 43})
    made_up_page = made_up.get(PAGE)
    assert made_up_page.status_code == 410
    assert "This invitation has expired" in expired_page
    assert main_of(made_up_page.content.decode()) == main_of(expired_page)
    assert not PendingSignIn.objects.exists()


def test_a_post_without_a_link_changes_nothing(user_factory):
    user = user_factory("agent", "off", password=None)
    http = HttpClient()
    answer = http.post(PAGE, {"new_password": CHOSEN, "confirm_password": CHOSEN})
    assert answer.status_code == 410
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_opening_links_is_budgeted_per_address(user_factory, settings):
    settings.DESKGATE_RESET = {**settings.DESKGATE_RESET, "per_ip_hour": 3}
    http = HttpClient()
    answers = [http.get(PAGE, {"t": f"guess{n}"}).status_code for n in range(5)]
    assert answers == [302, 302, 302, 429, 429]
