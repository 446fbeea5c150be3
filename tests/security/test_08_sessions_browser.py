"""8. Sessions and the browser: a new session key at sign-in, Secure/HttpOnly/SameSite
cookies in production settings, CSRF on every POST, a Content-Security-Policy without
inline scripts, no framing, sessions ended on the server (sign-out, deactivation,
password change), idle (30 minutes on admin pages, 8 hours otherwise) and absolute
(12 hours) timeouts.

Keycloak CVE-2024-4629 (locked accounts kept their sessions), Django's cookie-session
caveat (sessions not invalidated at logout), OWASP ASVS V3 and V50.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session

from deskgate import conf
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import MessageTemplate, UserSession
from deskgate.apitokens import tokens
from deskgate.signin.devices import COOKIE as DEVICE_COOKIE
from deskgate.signin.models import Passkey
from tests.conftest import PASSWORD
from tests.mailbox import last_code
from tests.security.conftest import (
    SESSION_COOKIE,
    concrete,
    full_sign_in,
    routes,
    signed_in_users,
    visible_text,
)
from tests.softkey import enrol_key

pytestmark = pytest.mark.django_db(transaction=True)

MINUTE = 60
HOUR = 60 * MINUTE


def csp_directives(header: str) -> dict[str, list[str]]:
    pairs = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0].lower(): words[1:] for words in pairs}


def set_cookie_headers(response) -> dict[str, str]:
    """The raw Set-Cookie headers of a response, by cookie name."""
    found = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        found[header.split("=", 1)[0].strip()] = header
    return found


def test_session_key_changes_at_each_step_and_a_planted_key_is_worthless(
    browser, user_factory
) -> None:
    mallory = user_factory("agent", "email")
    victim = user_factory("admin", "email")
    # Mallory gets a session from the site (her own password step) and plants its key.
    m = browser()
    m.sign_in(mallory.username)
    planted = m.session_key
    assert planted
    v = m.with_session(planted)
    v.sign_in(victim.username)
    pending_key = v.session_key
    assert pending_key and pending_key != planted
    v.submit_code(last_code(victim))
    final_key = v.session_key
    assert v.whoami() == victim.full_name
    assert final_key not in (planted, pending_key)
    # Neither earlier key opens anything, in Mallory's hands or anyone's.
    for key in (planted, pending_key):
        assert m.with_session(key).whoami() is None
    assert signed_in_users() == [victim.pk]


def test_cookies_are_secure_httponly_and_samesite_in_production_settings(
    browser, user_factory, settings
) -> None:
    production = conf.load({"SECRET_KEY": "s" * 50})  # no DESKGATE_SECURE_COOKIES: production
    assert production.secure_cookies is True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = production.secure_cookies
    user = user_factory("agent", "email")
    b = browser()
    cookies = set_cookie_headers(b.get("/signin/"))
    b.sign_in(user.username)
    response = b.submit_code(last_code(user), remember="on")
    cookies |= set_cookie_headers(response)
    assert {"csrftoken", SESSION_COOKIE, DEVICE_COOKIE} <= set(cookies), cookies
    for name in ("csrftoken", SESSION_COOKIE, DEVICE_COOKIE):
        attributes = {a.strip().split("=")[0].lower(): a for a in cookies[name].split(";")[1:]}
        assert "secure" in attributes, cookies[name]
        assert "httponly" in attributes, cookies[name]
        assert attributes.get("samesite", "").strip().lower() in ("samesite=lax", "samesite=strict")
    max_age = re.search(r"Max-Age=(\d+)", cookies[SESSION_COOKIE])
    assert max_age, cookies[SESSION_COOKIE]
    session_age = int(max_age.group(1))
    assert session_age <= 12 * HOUR


@pytest.fixture
def admin_site(browser, user_factory, tenant):
    admin = user_factory("admin", "off", username="site.admin", full_name="Site Admin")
    agent = user_factory("agent", "email")
    template = MessageTemplate.objects.create(
        client=tenant, name="Greeting", channel="sms", sender="Northwind", body="Hi"
    )
    enrol_key(agent)
    values = {
        "user_id": agent.pk,
        "uuid:user_id": agent.subject,
        "name": "User",
        "urn": "urn:ietf:params:scim:schemas:core:2.0:User",
        "template_id": template.pk,
        "passkey_id": Passkey.objects.get(user=agent).pk,
        "device_id": 1,  # a remembered device: only its owner's POST forgets it
        "token_id": tokens.issue(
            tenant, name="Directory", scope="scim", expires_days=None, by=OPERATOR
        ).token.pk,
        "slug": tenant.slug,
        "uidb64": "MQ",
        "token": "bad-token",
    }
    return full_sign_in(browser(), admin), values


APP_ENDPOINTS = {
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:introspect",
    "oauth2_provider:user-info",
    "oauth2_provider:oidc-connect-discovery-info",
    "oauth2_provider:jwks-info",
}


def program_door(name: str) -> bool:
    """SCIM and the REST API: programs send an API token as a bearer header, never a cookie."""
    return name.startswith(("scim:", "api:")) or name == "api_not_found"


def test_post_without_or_with_a_foreign_csrf_token_is_refused_everywhere(
    admin_site, browser
) -> None:
    a, values = admin_site
    anonymous = browser()
    anonymous.get("/signin/")
    other = browser()
    foreign = other.csrf_token("/signin/")  # a valid token of another browser
    own = a.csrf_token("/users/")
    checked = 0
    for route, name, _params in routes():
        url = concrete(route, values)
        if name in APP_ENDPOINTS:
            # The provider's endpoints for apps take no cookie: an app authenticates with its
            # credentials or a bearer token (CSRF does not apply), so a browser's POST with
            # the admin's cookies gets nothing there.
            for who in (a, anonymous):
                response = who.post_raw(url, {"grant_type": "password", "token": "x"})
                assert response.status_code in (400, 401, 403, 405), (url, response.status_code)
                assert "access_token" not in response.text and '"active": true' not in response.text
            continue
        if program_door(name):
            # No cookie opens these: the admin's session gets what anyone without a token
            # gets (401; 403, 404 or 405 where there is no such operation); nothing changes.
            for who in (a, anonymous):
                response = who.post_raw(url, {"username": "x", "password": PASSWORD})
                assert response.status_code in (401, 403, 404, 405), (url, response.status_code)
            continue
        attempts = [
            (a, {}),
            (a, {"csrfmiddlewaretoken": "x" * 64}),
            (a, {"csrfmiddlewaretoken": foreign}),
            (anonymous, {}),
        ]
        for who, data in attempts:
            response = who.post_raw(url, {**data, "username": "x", "password": PASSWORD})
            assert response.status_code == 403, (url, data, response.status_code)
            checked += 1
        # The right token, but the request comes from another site.
        response = a.post_raw(
            url, {"csrfmiddlewaretoken": own}, headers={"Origin": "http://evil.example"}
        )
        assert response.status_code == 403, (url, "origin")
    assert checked >= 4 * 25
    assert a.whoami() == "Site Admin"


def assert_page_is_hardened(response, where: str) -> None:
    csp = csp_directives(response.headers.get("Content-Security-Policy", ""))
    assert csp, f"{where}: no Content-Security-Policy"
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts == ["'self'"], (where, csp)
    assert csp.get("default-src") == ["'self'"], (where, csp)
    assert csp.get("frame-ancestors") == ["'none'"], (where, csp)
    assert csp.get("object-src") == ["'none'"], (where, csp)
    assert csp.get("base-uri") == ["'none'"], (where, csp)
    for sources in csp.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "data:", "*"} & set(sources) or (
            sources == ["'self'", "data:"]  # img-src only
        ), (where, csp)
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    body = response.text
    for tag, inner in re.findall(r"<script\b([^>]*)>(.*?)</script\s*>", body, re.S | re.I):
        assert "src=" in tag and not inner.strip(), f"{where}: inline script {tag}{inner[:80]}"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", body, re.I), f"{where}: inline event handler"
    assert "javascript:" not in body.lower(), f"{where}: javascript: URL"


def test_every_page_has_a_strict_csp_no_inline_script_and_denies_framing(
    admin_site, browser, user_factory
) -> None:
    a, values = admin_site
    agent = user_factory("agent", "off")
    pending_user = user_factory("agent", "email")
    viewers = {"admin": a, "agent": full_sign_in(browser(), agent), "anonymous": browser()}
    pending = browser()
    pending.sign_in(pending_user.username)
    viewers["pending"] = pending
    pages = 0
    for who, b in viewers.items():
        for route, name, _params in routes():
            if name in ("signin:sign_out", "signin:cancel"):
                continue
            response = b.get(concrete(route, values))
            assert_page_is_hardened(response, f"{who} GET /{route}")
            pages += response.status_code == 200
    # Error pages too: 404, CSRF 403, 400.
    for response in (
        a.get("/nowhere/"),
        a.post_raw("/users/create/", {}),
        a.get("/signin/reset/MQ/bad-token/"),
        a.get("/admin/"),
    ):
        assert_page_is_hardened(response, f"error {response.status_code}")
    assert pages >= 20
    # The sign-in pages are never cached.
    for path in ("/signin/", "/signin/code/"):
        assert "no-store" in pending.get(path).headers.get("Cache-Control", ""), path


def test_sign_out_ends_the_session_on_the_server(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    b = full_sign_in(browser(), user)
    key = b.session_key
    b.sign_out()
    assert b.whoami() is None
    assert browser().with_session(key).whoami() is None
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=user).exists()


def test_deactivation_ends_every_session_of_the_user(browser, user_factory, admin_user) -> None:
    agent = user_factory("agent", "email")
    one, two = full_sign_in(browser(), agent), full_sign_in(browser(), agent)
    keys = [one.session_key, two.session_key]
    a = full_sign_in(browser(), admin_user)
    response = a.post(
        f"/users/{agent.pk}/",
        {
            "username": agent.username,
            "full_name": agent.full_name,
            "level": "agent",
            "employment": "inactive",
            "email": agent.email,
            "work_phone": agent.work_phone,
            "mfa_method": "email",
        },
    )
    assert response.status_code == 302
    for key in keys:
        assert one.with_session(key).whoami() is None
        assert not Session.objects.filter(session_key=key).exists()
    assert one.whoami() is None and two.whoami() is None
    assert signed_in_users() == [admin_user.pk]


def test_password_change_ends_the_other_sessions(browser, user_factory) -> None:
    user = user_factory("agent", "off")
    here, elsewhere = full_sign_in(browser(), user), full_sign_in(browser(), user)
    new = "a completely new passphrase 77"
    response = here.post(
        "/signin/password/",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert response.status_code == 302
    assert here.whoami() == user.full_name
    assert elsewhere.whoami() is None


def test_idle_timeout_is_30_minutes_on_admin_pages(browser, admin_user, clock) -> None:
    a = full_sign_in(browser(), admin_user)
    key = a.session_key
    clock(timedelta(minutes=29))
    assert a.get("/users/").status_code == 200  # activity keeps the session alive
    clock(timedelta(minutes=29))
    assert a.get("/users/").status_code == 200
    clock(timedelta(minutes=30, seconds=5))
    response = a.get("/users/")
    assert response.status_code == 302 and response.headers["Location"] == "/signin/"
    assert "after 30 minutes without activity" in visible_text(a.get("/signin/"))
    assert a.with_session(key).whoami() is None
    assert not UserSession.objects.filter(session_key=key).exists()


def test_idle_timeout_is_8_hours_for_agents(browser, user_factory, clock) -> None:
    agent = user_factory("agent", "off")
    b = full_sign_in(browser(), agent)
    clock(timedelta(minutes=31))
    assert b.whoami() == agent.full_name
    clock(timedelta(hours=8, minutes=1))
    assert b.whoami() is None


def test_absolute_timeout_is_12_hours_even_when_active(browser, user_factory, clock) -> None:
    agent = user_factory("agent", "off")
    b = full_sign_in(browser(), agent)
    key = b.session_key
    for _ in range(3):
        clock(timedelta(hours=3, minutes=50))
        assert b.whoami() == agent.full_name
    clock(timedelta(minutes=31))  # 12 h 1 min after signing in
    response = b.get("/account/")
    assert response.status_code == 302
    assert "a session lasts at most 12 hours" in visible_text(b.get("/signin/"))
    assert b.with_session(key).whoami() is None
