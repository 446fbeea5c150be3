"""Sessions: idle timeout (30 minutes for admin pages), absolute timeout, security headers,
cookie flags and CSRF on every form."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client as HttpClient

from deskgate import conf
from deskgate.accounts import sessions
from deskgate.accounts.models import User, UserSession
from tests.conftest import PASSWORD, sign_in, signed_in_client
from tests.pages import page_text, snapshot

MINUTE = 60
HOUR = 60 * MINUTE
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def csp_directives(header: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources}; the order does not matter."""
    pairs = (part.strip().partition(" ") for part in header.split(";") if part.strip())
    return {name: sources.strip() for name, _, sources in pairs}


def age_session(http: HttpClient, *, idle: float = 0, since_sign_in: float | None = None) -> None:
    """Pretend the last request was `idle` seconds ago and the sign-in `since_sign_in` ago."""
    session = http.session
    now = time.time()
    session[sessions.LAST_SEEN] = now - idle
    if since_sign_in is not None:
        session[sessions.SIGNED_IN_AT] = now - since_sign_in
    session.save()


def assert_signed_out(http: HttpClient, response: Any, words: str) -> None:
    key = http.cookies["deskgate_session"].value
    assert response.status_code == 302
    assert response["Location"] == "/signin/"
    assert words in page_text(http.get("/signin/"))
    assert http.get("/users/")["Location"].startswith("/signin/?next=")
    assert not UserSession.objects.filter(session_key=key).exists()


def test_admin_idle_for_31_minutes_is_signed_out(admin_user: User) -> None:
    http = signed_in_client(admin_user)
    old_key = http.cookies["deskgate_session"].value
    age_session(http, idle=31 * MINUTE)
    response = http.get("/users/")
    assert_signed_out(
        http, response, "You were signed out after 30 minutes without activity. Sign in again."
    )
    assert not Session.objects.filter(
        session_key=old_key, session_data__contains="_auth_user_id"
    ).exists()


def test_admin_idle_for_29_minutes_stays(admin_user: User) -> None:
    http = signed_in_client(admin_user)
    age_session(http, idle=29 * MINUTE)
    assert http.get("/users/").status_code == 200


def test_activity_keeps_an_admin_signed_in(
    admin_user: User, clock: Callable[[timedelta], datetime]
) -> None:
    http = signed_in_client(admin_user)
    for _ in range(4):  # two hours in all, never 30 minutes idle
        clock(timedelta(minutes=29))
        assert http.get("/users/").status_code == 200
    clock(timedelta(minutes=31))
    assert_signed_out(http, http.get("/account/"), "after 30 minutes without activity")


def test_the_idle_limit_covers_every_page_of_an_admin(
    admin_user: User, clock: Callable[[timedelta], datetime]
) -> None:
    http = signed_in_client(admin_user)
    clock(timedelta(minutes=31))
    assert http.get("/account/").status_code == 302


def test_manager_has_the_admin_pages_limit(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    http = signed_in_client(user_factory("manager"))
    clock(timedelta(minutes=31))
    assert_signed_out(http, http.get("/users/"), "after 30 minutes without activity")


def test_agent_has_a_longer_idle_limit(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    http = signed_in_client(user_factory("agent"))
    clock(timedelta(hours=2))
    assert http.get("/account/").status_code == 200
    clock(timedelta(hours=8, minutes=1))
    assert_signed_out(http, http.get("/account/"), "after 8 hours without activity")


def test_absolute_limit_of_12_hours(admin_user: User) -> None:
    http = signed_in_client(admin_user)
    age_session(http, idle=0, since_sign_in=12 * HOUR + MINUTE)
    assert_signed_out(
        http,
        http.get("/users/"),
        "You were signed out because a session lasts at most 12 hours. Sign in again.",
    )


def test_absolute_limit_holds_despite_activity(
    user_factory: Callable[..., User], clock: Callable[[timedelta], datetime]
) -> None:
    http = signed_in_client(user_factory("agent"))
    for _ in range(11):
        clock(timedelta(hours=1))
        assert http.get("/account/").status_code == 200
    clock(timedelta(hours=1, minutes=1))
    assert_signed_out(http, http.get("/account/"), "a session lasts at most 12 hours")


def test_a_timed_out_session_cannot_be_replayed(admin_user: User) -> None:
    http = signed_in_client(admin_user)
    key = http.cookies["deskgate_session"].value
    age_session(http, idle=31 * MINUTE)
    http.get("/users/")
    replay = HttpClient()
    replay.cookies["deskgate_session"] = key
    assert replay.get("/users/").status_code == 302


def test_signing_in_again_after_a_timeout_works(admin_user: User) -> None:
    http = signed_in_client(admin_user)
    age_session(http, idle=31 * MINUTE)
    http.get("/users/")
    assert sign_in(http, admin_user).status_code == 302
    assert http.get("/users/").status_code == 200


@pytest.mark.parametrize(
    "path", ["/signin/", "/signin/reset/", "/users/", "/account/", "/nowhere/", "/users/999999/"]
)
def test_security_headers_on_every_page(admin_http: HttpClient, path: str) -> None:
    for http in (admin_http, HttpClient()):
        response = http.get(path)
        assert csp_directives(response["Content-Security-Policy"]) == CSP
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_sign_in_pages_are_not_cached(db: None) -> None:
    for path in ("/signin/", "/signin/reset/"):
        cache_control = HttpClient().get(path)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control


def test_session_and_csrf_cookies_flags(settings: Any, admin_user: User) -> None:
    http = HttpClient()
    page = http.get("/signin/")
    csrf = page.cookies["csrftoken"]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    response = sign_in(http, admin_user)
    cookie = response.cookies["deskgate_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert bool(cookie["secure"]) == settings.SESSION_COOKIE_SECURE
    assert int(cookie["max-age"]) == 12 * HOUR


def test_cookies_are_secure_unless_turned_off_for_the_local_demo() -> None:
    assert conf.load({}).secure_cookies
    assert not conf.load({"DESKGATE_SECURE_COOKIES": "0"}).secure_cookies


def csrf_token(response: Any) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_sign_in_without_a_csrf_token_is_refused(admin_user: User) -> None:
    http = HttpClient(enforce_csrf_checks=True)
    http.get("/signin/")
    response = http.post("/signin/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in http.session


def test_sign_in_with_the_pages_csrf_token_works(admin_user: User) -> None:
    http = HttpClient(enforce_csrf_checks=True)
    token = csrf_token(http.get("/signin/"))
    response = http.post(
        "/signin/",
        {"username": admin_user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert http.get("/users/").status_code == 200


def signed_in_enforcing_csrf(user: User) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    token = csrf_token(http.get("/signin/"))
    http.post(
        "/signin/",
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert http.get("/users/").status_code == 200
    return http


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/signin/sign-out/", {}),
        ("/signin/password/", {"current_password": PASSWORD}),
        ("/users/create/", {"username": "csrf.victim", "full_name": "X", "level": "agent"}),
        ("/users/bulk/", {"method": "email", "scope": "level:agent"}),
        ("/users/{me}/", {"username": "renamed", "full_name": "Renamed", "level": "agent"}),
        ("/templates/create/", {"name": "CSRF", "channel": "sms", "sender": "X", "body": "x"}),
        ("/settings/", {"password_reset_enabled": "on"}),
        ("/signin/reset/", {"email": "anna.admin@example.com"}),
    ],
)
def test_every_form_refuses_a_post_without_the_token(
    admin_user: User, path: str, data: dict[str, str]
) -> None:
    http = signed_in_enforcing_csrf(admin_user)
    before = snapshot()
    response = http.post(path.format(me=admin_user.pk), data)
    assert response.status_code == 403
    assert snapshot() == before
    assert http.get("/users/").status_code == 200  # still signed in: sign-out was refused too


def test_a_token_from_another_browser_is_refused(admin_user: User) -> None:
    victim = signed_in_enforcing_csrf(admin_user)
    attacker = HttpClient(enforce_csrf_checks=True)
    foreign = csrf_token(attacker.get("/signin/"))
    response = victim.post(
        "/settings/", {"password_reset_enabled": "on", "csrfmiddlewaretoken": foreign}
    )
    assert response.status_code == 403
