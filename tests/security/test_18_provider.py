"""18. The OpenID Provider as a door: open redirects, code injection, mix-up, tokens in
logs, tenant isolation.

Every request goes to the live server over HTTP, as a browser or an app would. The app's
side uses Authlib's PKCE helper and joserfc to read the ID token, not Deskgate's code.

OWASP OAuth 2.0 cheat sheet; RFC 9700 (OAuth 2.0 Security BCP) sections 4.1 (redirect URI
validation), 4.4 (mix-up, RFC 9207's iss), 4.5 (code injection, PKCE), 4.14 (refresh
token protection); OpenID Connect Core 3.1.2.1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings as django_settings
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.settings import oauth2_settings

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditAction, AuditEvent
from deskgate.provider import registry
from tests.security.conftest import full_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "http://127.0.0.1:9/callback"
OTHER_CALLBACK = "http://127.0.0.1:9/other"
WEB_CALLBACK = "https://desk.example.com/callback"


@pytest.fixture
def issuer(live_server: Any, settings: Any) -> Iterator[str]:
    """The provider's issuer is the live server (as DESKGATE_BASE_URL would make it)."""
    settings.OAUTH2_PROVIDER = {
        **django_settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": live_server.url,
    }
    oauth2_settings.reload()
    yield live_server.url
    oauth2_settings.reload()


def app(name: str = "Agent desktop", **extra: Any) -> registry.Registered:
    data = registry.AppInput(
        name=name, redirect_uris=[CALLBACK, OTHER_CALLBACK, WEB_CALLBACK], **extra
    )
    return registry.register_app(data, by=OPERATOR)


class Request:
    """One authorization request of an app, with its PKCE verifier."""

    def __init__(self, registered: registry.Registered, **params: str) -> None:
        self.registered = registered
        self.verifier = generate_token(48)
        self.params = {
            "response_type": "code",
            "client_id": registered.application.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email deskgate",
            "state": generate_token(16),
            "nonce": generate_token(16),
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256",
            **params,
        }

    @property
    def path(self) -> str:
        return "/o/authorize/?" + urlencode(self.params)

    def code_from(self, response: requests.Response) -> str:
        assert response.status_code == 302, response.text[:500]
        location = response.headers["Location"]
        assert location.startswith(self.params["redirect_uri"] + "?"), location
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [self.params["state"]]
        return query["code"][0]

    def exchange(self, base: str, code: str, **overrides: str) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.params["redirect_uri"],
            "code_verifier": self.verifier,
        }
        data.update(overrides)
        secret = self.registered.client_secret or ""
        return requests.post(
            base + "/o/token/",
            data=data,
            auth=(self.registered.application.client_id, secret),
            timeout=30,
        )


REDIRECT_TRICKS = [
    "http://evil.example/callback",
    CALLBACK + "/more",
    CALLBACK + "?next=http://evil.example/",
    CALLBACK.replace("http://", "https://"),
    "http://127.0.0.1:9@evil.example/callback",
    # Another port of a registered https URI. (A loopback http URI may come back on any
    # port: RFC 8252 section 7.3, for native apps; that is the user's own machine.)
    "https://desk.example.com:8443/callback",
    "https://desk.example.com.evil.example/callback",
    "http://desk.example.com/callback",
    CALLBACK + "#frag",
    "//evil.example/callback",
    "",
]


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_authorization_never_redirects_to_a_uri_the_app_did_not_register(
    browser: Any, issuer: str, user_factory: Any, signed_in: bool
) -> None:
    registered = app()
    victim = browser()
    if signed_in:
        full_sign_in(victim, user_factory("agent", "off"))
    for trick in REDIRECT_TRICKS:
        for prompt in ("", "none"):
            request = Request(registered, redirect_uri=trick, prompt=prompt)
            response = victim.get(request.path)
            location = response.headers.get("Location", "")
            assert "evil" not in location and not location.startswith(trick or "\0"), (
                trick,
                location,
            )
            assert response.status_code in (400, 302), (trick, response.status_code)
            if response.status_code == 302:  # only to our own sign-in page
                assert location.startswith("/signin/"), (trick, location)
    # An unknown app: an error page, never a redirect.
    request = Request(registered, client_id="no-such-app")
    response = victim.get(request.path)
    assert response.status_code == 400
    assert "sign-in link does not work" in response.text  # Deskgate's page, with its words


def test_logout_never_redirects_to_an_unregistered_uri(
    browser: Any, issuer: str, user_factory: Any
) -> None:
    registered = app(post_logout_redirect_uris=["http://127.0.0.1:9/"])
    victim = full_sign_in(browser(), user_factory("agent", "off"))
    query = urlencode(
        {
            "client_id": registered.application.client_id,
            "post_logout_redirect_uri": "http://evil.example/",
            "state": "x",
        }
    )
    response = victim.get("/o/logout/?" + query)
    assert "evil" not in response.headers.get("Location", "")
    assert response.status_code == 400


def test_a_code_works_only_for_its_app_its_redirect_uri_and_its_verifier(
    browser: Any, issuer: str, user_factory: Any
) -> None:
    app_a, app_b = app("Reports"), app("Wallboard")
    victim = full_sign_in(browser(), user_factory("agent", "off"))
    request = Request(app_a)
    code = request.code_from(victim.get(request.path))
    # Injected into another app (with that app's own credentials and a fresh verifier).
    other = Request(app_b)
    assert other.exchange(issuer, code).json()["error"] == "invalid_grant"
    # The same app, another of its registered redirect URIs.
    assert request.exchange(issuer, code, redirect_uri=OTHER_CALLBACK).status_code == 400
    # A fresh code each for: no verifier, someone else's verifier.
    for wrong in ({"code_verifier": ""}, {"code_verifier": generate_token(48)}):
        request = Request(app_a)
        code = request.code_from(victim.get(request.path))
        answer = request.exchange(issuer, code, **wrong)
        assert answer.status_code == 400 and "access_token" not in answer.text
    # The right app, URI and verifier: tokens.
    request = Request(app_a)
    code = request.code_from(victim.get(request.path))
    assert "access_token" in request.exchange(issuer, code).json()


def test_plain_or_missing_pkce_is_refused_before_any_sign_in(
    browser: Any, issuer: str, user_factory: Any
) -> None:
    registered = app()
    victim = full_sign_in(browser(), user_factory("agent", "off"))
    for params in (
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"code_challenge_method": ""},
    ):
        request = Request(registered, **params)
        response = victim.get(request.path)
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query.get("error") == ["invalid_request"], (params, response.headers["Location"])
        assert "code" not in query


def test_every_answer_names_the_issuer_against_mix_up(
    browser: Any, issuer: str, user_factory: Any
) -> None:
    """RFC 9207: the authorization response carries iss; the ID token's iss is the same."""
    registered = app()
    victim = full_sign_in(browser(), user_factory("agent", "off"))
    request = Request(registered)
    response = victim.get(request.path)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["iss"] == [issuer]
    tokens = request.exchange(issuer, request.code_from(response)).json()
    keys = KeySet.import_key_set(requests.get(issuer + "/o/jwks/", timeout=30).json())
    claims = jwt.decode(tokens["id_token"], keys).claims
    assert claims["iss"] == issuer
    assert claims["aud"] == registered.application.client_id
    assert claims["nonce"] == request.params["nonce"]
    discovery = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()
    assert discovery["issuer"] == issuer
    assert discovery["authorization_response_iss_parameter_supported"] is True


def test_no_code_token_or_secret_reaches_a_log_or_the_audit_trail(
    browser: Any, issuer: str, user_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registered = app()
    victim = full_sign_in(browser(), user_factory("agent", "email"))
    request = Request(registered)
    code = request.code_from(victim.get(request.path))
    tokens = request.exchange(issuer, code).json()
    refreshed = requests.post(
        issuer + "/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(registered.application.client_id, registered.client_secret or ""),
        timeout=30,
    ).json()
    assert "access_token" in refreshed
    replay = request.exchange(issuer, code)  # an error path too: it revokes the family
    assert replay.status_code == 400
    secrets_seen = [
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        refreshed["id_token"],
        registered.client_secret,
    ]
    logged = "\n".join(
        record.getMessage() + " " + str(record.args) + " " + str(record.__dict__)
        for record in caplog.records
    )
    trail = "\n".join(f"{e.summary} {e.detail}" for e in AuditEvent.objects.all())
    for value in secrets_seen:
        assert value
        assert value not in logged
        assert value not in trail
    # Stored hashed: the database holds no raw token or secret either.
    from oauth2_provider.models import AccessToken, Application, RefreshToken

    assert not AccessToken.objects.filter(token=refreshed["access_token"]).exists()
    assert not RefreshToken.objects.filter(token=refreshed["refresh_token"]).exists()
    assert Application.objects.get(pk=registered.application.pk).client_secret != (
        registered.client_secret
    )


def test_an_app_open_to_one_client_refuses_another_clients_users(
    browser: Any, issuer: str, tenant_factory: Any, user_factory: Any
) -> None:
    ours, theirs = tenant_factory("Ours"), tenant_factory("Theirs")
    registered = app(clients=["Ours"])
    outsider = user_factory("admin", "off", client=theirs)
    victim = full_sign_in(browser(), outsider)
    request = Request(registered)
    response = victim.get(request.path)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert set(query) <= {"error", "state", "iss"}, query  # told nothing more
    refused = AuditEvent.objects.get(action=AuditAction.OIDC_REFUSED)
    assert refused.client_id == theirs.pk and refused.subject_id == outsider.pk
    # The app's own client's users get in.
    insider = full_sign_in(browser(), user_factory("agent", "off", client=ours))
    request = Request(registered)
    assert request.code_from(insider.get(request.path))


def test_a_token_shows_only_its_own_user_and_dies_with_the_account(
    browser: Any, issuer: str, user_factory: Any
) -> None:
    registered = app()
    alice, bob = user_factory("agent", "off"), user_factory("agent", "off")
    tokens = {}
    for person in (alice, bob):
        session = full_sign_in(browser(), person)
        request = Request(registered)
        tokens[person.pk] = request.exchange(
            issuer, request.code_from(session.get(request.path))
        ).json()
    for person in (alice, bob):
        info = requests.get(
            issuer + "/o/userinfo/",
            headers={"Authorization": f"Bearer {tokens[person.pk]['access_token']}"},
            timeout=30,
        ).json()
        assert info["preferred_username"] == person.username
        assert info["sub"] == str(person.subject) and info["sub"] != person.username
    actions.set_user_active(alice, False, by=OPERATOR)
    dead = requests.get(
        issuer + "/o/userinfo/",
        headers={"Authorization": f"Bearer {tokens[alice.pk]['access_token']}"},
        timeout=30,
    )
    assert dead.status_code == 401
    refresh = requests.post(
        issuer + "/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens[alice.pk]["refresh_token"]},
        auth=(registered.application.client_id, registered.client_secret or ""),
        timeout=30,
    )
    assert refresh.status_code == 400
    alive = requests.get(
        issuer + "/o/userinfo/",
        headers={"Authorization": f"Bearer {tokens[bob.pk]['access_token']}"},
        timeout=30,
    )
    assert alive.status_code == 200


def test_logout_naming_an_unknown_app_is_an_error_page_not_a_crash(
    browser: Any, issuer: str
) -> None:
    """django-oauth-toolkit answered 500 (Application.DoesNotExist) for an unknown client_id."""
    b = browser()
    assert b.get("/o/logout/?client_id=no-such-app").status_code == 400
    b.get("/signin/")
    response = b.post("/o/logout/", {"client_id": "no-such-app", "allow": "on"}, form="/signin/")
    assert response.status_code == 400
    assert "sign-out link does not work" in response.text
