"""Password sign-in: one answer for every failure, a new session key, temporary passwords,
the new password's rules, sign out and change password."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, User, UserSession
from tests.conftest import PASSWORD, sign_in
from tests.pages import controls, field_errors, form_errors_text, page_text, without_csrf

COOKIE = "deskgate_session"
WRONG = (
    "The user name or password is not right. After many failed tries, sign-in pauses for "
    "a while; your admin can unlock it."
)
NEW_PASSWORD = "lighthouse pancake orbit velvet"


def session_key(http: HttpClient) -> str | None:
    cookie = http.cookies.get(COOKIE)
    return cookie.value if cookie is not None and cookie.value else None


def is_signed_in(http: HttpClient) -> bool:
    key = session_key(http)
    if key is None:
        return False
    session = Session.objects.filter(session_key=key).first()
    return session is not None and SESSION_KEY in session.get_decoded()


def pass_code_step_if_owed(http: HttpClient, response: Any) -> Any:
    """Users with MFA owe a code after the password: read it from the mail and enter it."""
    if response.status_code != 302 or response["Location"] != "/signin/code/":
        return response
    codes = re.findall(r"\b(\d{6})\b", str(mail.outbox[-1].body))
    assert codes, mail.outbox[-1].body
    return http.post("/signin/code/", {"action": "verify", "code": codes[0]})


@pytest.fixture
def vera(user_factory: Callable[..., User]) -> User:
    return user_factory("agent", username="vera.agent", full_name="Vera Agent")


def test_sign_in_page_has_the_labels(db: None) -> None:
    response = HttpClient().get("/signin/")
    assert response.status_code == 200
    text = page_text(response)
    assert "User name" in text and "Password" in text and "Sign in" in text
    assert set(controls(response).values) >= {"username", "password", "csrfmiddlewaretoken"}


def test_success_opens_a_session(admin_user: User) -> None:
    http = HttpClient()
    response = sign_in(http, admin_user)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_signed_in(http)
    assert http.get("/users/").status_code == 200
    assert UserSession.objects.filter(session_key=session_key(http), user=admin_user).exists()
    assert AuditEvent.objects.filter(action="signin.success", subject=admin_user).exists()


def test_user_name_is_not_case_sensitive(vera: User) -> None:
    http = HttpClient()
    response = http.post("/signin/", {"username": "  VERA.Agent ", "password": PASSWORD})
    assert response.status_code == 302
    assert is_signed_in(http)


@pytest.mark.parametrize("password", [PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, ""])
def test_password_is_exact(vera: User, password: str) -> None:
    http = HttpClient()
    response = http.post("/signin/", {"username": "vera.agent", "password": password})
    assert response.status_code == 200
    assert not is_signed_in(http)


def test_unknown_user_wrong_password_and_inactive_get_the_same_answer(
    user_factory: Callable[..., User],
) -> None:
    # User names of one length, so that even the echoed field is byte for byte the same.
    user_factory("agent", username="known.user")
    user_factory("agent", username="asleep.usr", active=False)
    attempts = {
        "unknown user": ("nobody.any", PASSWORD),
        "wrong password": ("known.user", "not the password at all"),
        "inactive user": ("asleep.usr", PASSWORD),
    }
    answers = {}
    for why, (username, password) in attempts.items():
        http = HttpClient()
        response = http.post("/signin/", {"username": username, "password": password})
        assert response.status_code == 200, why
        assert not is_signed_in(http), why
        assert form_errors_text(response) == WRONG, why
        assert controls(response).values["username"] == username
        answers[why] = (
            response.status_code,
            without_csrf(response).replace(f'value="{username}"', 'value=""'),
            sorted(k for k in response.headers if k.lower() != "content-length"),
        )
    assert answers["unknown user"] == answers["wrong password"] == answers["inactive user"]


def test_failures_are_recorded_for_known_users(vera: User) -> None:
    sign_in(HttpClient(), vera, "wrong one")
    event = AuditEvent.objects.get(action="signin.failure", subject=vera)
    assert event.detail["reason"] == "wrong_password"
    assert event.ip == "127.0.0.1"
    assert "wrong one" not in str(event.detail) + event.summary


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "vera.agent"},
        {"password": PASSWORD},
        {"username": "\x00", "password": "\x00"},
        {"username": "x" * 10_000, "password": "y" * 10_000},
        {"username": "vera.agent", "password": "p" * 5000},
        {"username": "😀 山田", "password": "😀"},
        {"username": ["vera.agent", "other"], "password": PASSWORD},
    ],
    ids=["nothing", "no password", "no user name", "null", "long", "long password", "emoji", "two"],
)
def test_garbage_never_fails_and_never_signs_in(vera: User, data: dict[str, Any]) -> None:
    http = HttpClient()
    response = http.post("/signin/", data)
    assert response.status_code in (200, 302)
    if data.get("username") != ["vera.agent", "other"]:
        assert not is_signed_in(http)


def test_session_key_changes_at_sign_in(admin_user: User) -> None:
    http = HttpClient()
    anonymous = http.session  # a session from before the sign-in, as a visitor would have
    anonymous["planted"] = "by an attacker"
    anonymous.save()
    before = session_key(http)
    assert before
    sign_in(http, admin_user)
    after = session_key(http)
    assert after and after != before
    assert not Session.objects.filter(session_key=before).exists()
    # The fixed (planted) key gives nothing.
    attacker = HttpClient()
    attacker.cookies[COOKIE] = before
    assert attacker.get("/users/").status_code == 302


@pytest.fixture
def temporary_admin(user_factory: Callable[..., User]) -> User:
    return user_factory("admin", username="tero.temp", full_name="Tero Temporary", temporary=True)


def test_temporary_password_must_be_changed_before_any_page(temporary_admin: User) -> None:
    http = HttpClient()
    response = sign_in(http, temporary_admin)
    assert response.status_code == 302
    assert response["Location"] == "/signin/new-password/"
    assert not is_signed_in(http)
    for path in ("/", "/users/", "/account/", "/audit/", "/settings/", "/signin/password/"):
        blocked = http.get(path)
        assert blocked.status_code == 302, path
        assert blocked["Location"].startswith("/signin/?next="), path
    assert http.post("/users/create/", {"username": "x"}).status_code == 302
    page = http.get("/signin/new-password/")
    assert page.status_code == 200
    assert "Tero Temporary, your password was set by an admin and is temporary." in page_text(page)


def choose(http: HttpClient, new: str, confirm: str | None = None) -> Any:
    return http.post(
        "/signin/new-password/",
        {"new_password": new, "confirm_password": new if confirm is None else confirm},
    )


@pytest.mark.parametrize(
    ("new", "confirm", "field", "words"),
    [
        pytest.param(
            "fourteen chars",
            None,
            "new_password",
            "Use at least 15 characters without MFA (this one has 14). A few unrelated words "
            "make a long password easy to remember.",
            id="14 characters without MFA",
        ),
        pytest.param(
            "my name is tero.temp ok",
            None,
            "new_password",
            "The password must not contain your user name, your name, your company's name or "
            "the service's name.",
            id="contains the user name",
        ),
        pytest.param(
            "TERO.TEMP and something long",
            None,
            "new_password",
            "must not contain your user name",
            id="user name in capitals",
        ),
        pytest.param(
            "temporary tero rides again",
            None,
            "new_password",
            "must not contain your user name, your name",
            id="contains the person's name",
        ),
        pytest.param(
            "my deskgate password is long",
            None,
            "new_password",
            "the service's name",
            id="contains the service name",
        ),
        pytest.param(
            NEW_PASSWORD,
            NEW_PASSWORD + "!",
            "confirm_password",
            "The two passwords are not the same.",
            id="confirmation differs",
        ),
        pytest.param(PASSWORD, None, "new_password", "", id="the temporary one again"),
    ],
)
def test_new_password_rules_with_messages(
    temporary_admin: User, new: str, confirm: str | None, field: str, words: str
) -> None:
    http = HttpClient()
    sign_in(http, temporary_admin)
    response = choose(http, new, confirm)
    if not words:  # reusing the temporary password is the user's choice; it is now final
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert any(words in e for e in field_errors(response, field)), field_errors(response, field)
    assert not is_signed_in(http)
    temporary_admin.refresh_from_db()
    assert temporary_admin.must_change_password
    assert temporary_admin.check_password(PASSWORD)


def test_fifteen_characters_are_enough_without_mfa(temporary_admin: User) -> None:
    http = HttpClient()
    sign_in(http, temporary_admin)
    response = choose(http, "fifteen chars!!")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_signed_in(http)
    assert http.get("/users/").status_code == 200
    temporary_admin.refresh_from_db()
    assert not temporary_admin.must_change_password
    assert temporary_admin.check_password("fifteen chars!!")
    assert not temporary_admin.check_password(PASSWORD)


def test_with_mfa_eight_characters_are_enough(user_factory: Callable[..., User]) -> None:
    user = user_factory("agent", "email", username="mia.mfa", full_name="Mia Mfa", temporary=True)
    http = HttpClient()
    response = pass_code_step_if_owed(http, sign_in(http, user))
    assert response["Location"] == "/signin/new-password/"
    short = choose(http, "7 chars")
    assert short.status_code == 200
    assert field_errors(short, "new_password")[0].startswith(
        "Use at least 8 characters with MFA on (this one has 7)."
    )
    done = choose(http, "8 chars!")
    assert done.status_code == 302
    assert is_signed_in(http)


def test_new_password_page_without_a_sign_in_goes_back(db: None) -> None:
    http = HttpClient()
    assert http.get("/signin/new-password/")["Location"] == "/signin/"
    assert choose(http, NEW_PASSWORD)["Location"] == "/signin/"


def test_a_signed_in_user_skips_the_sign_in_page(admin_http: HttpClient) -> None:
    assert admin_http.get("/signin/")["Location"] == "/"


def test_sign_out_ends_the_session_on_the_server(admin_user: User) -> None:
    http = HttpClient()
    sign_in(http, admin_user)
    key = session_key(http)
    assert key
    response = http.post("/signin/sign-out/")
    assert response.status_code == 302
    assert response["Location"] == "/signin/"
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    assert AuditEvent.objects.filter(action="signin.signed_out", subject=admin_user).exists()
    # Someone who kept the old cookie gets nothing.
    replay = HttpClient()
    replay.cookies[COOKIE] = key
    for path in ("/users/", "/account/"):
        assert replay.get(path).status_code == 302
    assert "You are signed out." in page_text(http.get("/signin/"))


def test_sign_out_takes_post_only(admin_http: HttpClient) -> None:
    assert admin_http.get("/signin/sign-out/").status_code == 405
    assert admin_http.get("/users/").status_code == 200


def test_change_password(admin_user: User) -> None:
    http, elsewhere = HttpClient(), HttpClient()
    sign_in(http, admin_user)
    sign_in(elsewhere, admin_user)
    wrong = http.post(
        "/signin/password/",
        {
            "current_password": "not it",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert field_errors(wrong, "current_password") == ["That is not your current password."]
    short = http.post(
        "/signin/password/",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert "Use at least 15 characters" in field_errors(short, "new_password")[0]
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)
    done = http.post(
        "/signin/password/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302 and done["Location"] == "/account/"
    assert "Your password is changed." in page_text(http.get("/account/"))
    assert http.get("/users/").status_code == 200  # this session stays
    assert elsewhere.get("/users/").status_code == 302  # the other one ends
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)


def test_change_password_needs_a_session(db: None) -> None:
    response = HttpClient().get("/signin/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")
