"""Deskgate as an OpenID Provider, end to end (issue 12): a real relying-party library as
the app, Chromium as the person's browser, the live server as Deskgate.

The app is Authlib's OAuth2Session (code flow, PKCE S256, client_secret_basic) with the
ID token checked by joserfc against the published JWKS: nothing of Deskgate's own code
is on the app's side. Its redirect URI is a real HTTP server on loopback that only
answers "back in the app"; the test hands the URL the browser landed on to the app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.settings import oauth2_settings
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.provider import registry
from deskgate.provider.claims import ACR_MFA, ACR_ONE_FACTOR
from tests.browser.steps import enter_code, expect_code_step, provider_login
from tests.conftest import PASSWORD
from tests.harness.kannel import Kannel
from tests.harness.smtp import SmtpServer
from tests.mailbox import code_in

pytestmark = pytest.mark.browser

SCOPE = "openid profile email deskgate"
WAIT_MS = 10_000  # the longest a step may take before the test fails


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  # the name http.server calls
        self.server.arrivals.append(self.path)  # type: ignore[attr-defined]  # ours, below
        body = b"<!doctype html><title>The app</title><h1>Back in the app</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # http.server's name
        pass


class AppServer:
    """The apps' redirect URIs: a real HTTP server on loopback, which remembers what arrived."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        self.server.arrivals = []  # type: ignore[attr-defined]  # read by _Answer
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def arrivals(self) -> list[str]:
        return self.server.arrivals  # type: ignore[attr-defined]  # set above


@pytest.fixture(scope="module")
def app_server() -> Iterator[AppServer]:
    server = AppServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture(scope="session")
def oidc_claims_conform() -> bool:
    """The SSO tests here run once, with the test provider's default (the claims at
    UserInfo); tests/browser/test_sso.py covers both ways."""
    return True


@dataclass
class Attempt:
    """One authorization request the app sent the browser off with."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class SignIn:
    """What the app learnt: the verified ID token's claims, UserInfo, and the tokens."""

    claims: dict[str, Any]
    userinfo: dict[str, Any]
    token: dict[str, Any] = field(repr=False)


@dataclass
class App:
    """A relying party: Authlib for the protocol, joserfc for the ID token."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    metadata: dict[str, Any]

    def session(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106  # a method name
        )

    def start(self, **params: str) -> Attempt:
        """The authorization request, as the app builds it (PKCE S256, a nonce)."""
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = self.session().create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params
        )
        return Attempt(url, state, nonce, verifier)

    def answer(self, attempt: Attempt, landed: str) -> dict[str, str]:
        """The authorization response at the redirect URI: for this request (state), from
        this issuer (RFC 9207 `iss`, against mix-up)."""
        assert landed.startswith(self.redirect_uri + "?"), landed
        query = {name: values[0] for name, values in parse_qs(urlsplit(landed).query).items()}
        assert query.get("state") == attempt.state, query
        assert query.get("iss") == self.issuer, query
        return query

    def finish(self, attempt: Attempt, landed: str) -> SignIn:
        """Exchange the code (with the PKCE verifier), verify the ID token, call UserInfo."""
        assert "code" in self.answer(attempt, landed)
        # Closed after use: a kept-alive connection would keep a live server thread, and
        # its database connection, past the test (PostgreSQL then cannot drop the database).
        with self.session() as session:
            token = session.fetch_token(
                self.metadata["token_endpoint"],
                authorization_response=landed,
                state=attempt.state,
                code_verifier=attempt.verifier,
            )
            userinfo = session.get(self.metadata["userinfo_endpoint"], timeout=5)
        assert userinfo.status_code == 200, userinfo.text
        keys = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=5).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        assert decoded.header.get("kid"), decoded.header
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            nonce={"essential": True, "value": attempt.nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            auth_time={"essential": True},
        ).validate(decoded.claims)
        return SignIn(dict(decoded.claims), userinfo.json(), token)


@pytest.fixture
def issuer(live_server: Any, settings: Any) -> str:
    """Deskgate's issuer is the live server's URL (the SSO callback's base too).

    Assigning OAUTH2_PROVIDER through pytest-django's `settings` sends setting_changed,
    on which django-oauth-toolkit reloads its cached settings (and again when the
    fixture puts them back); the check below makes sure of it.
    """
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": live_server.url}
    settings.DESKGATE_BASE_URL = live_server.url
    assert live_server.url == oauth2_settings.OIDC_ISS_ENDPOINT
    return str(live_server.url)


@pytest.fixture
def app_factory(issuer: str, app_server: AppServer) -> Callable[..., App]:
    """register_app(...) as an operator would, then the app reads the discovery document."""
    app_server.arrivals.clear()
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert metadata["issuer"] == issuer
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    def make(name: str, *, clients: tuple[str, ...] = ()) -> App:
        redirect_uri = f"{app_server.url}/{name.lower().replace(' ', '-')}/callback"
        registered = registry.register_app(
            registry.AppInput(name=name, redirect_uris=[redirect_uri], clients=list(clients)),
            by=OPERATOR,
        )
        assert registered.client_secret is not None
        return App(
            name,
            issuer,
            registered.application.client_id,
            registered.client_secret,
            redirect_uri,
            metadata,
        )

    return make


@pytest.fixture
def app(app_factory: Callable[..., App]) -> App:
    return app_factory("Agent desktop")


@pytest.fixture
def visits(page: Page) -> list[str]:
    """The URLs the tab navigates to, in order (redirects included)."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if r.is_navigation_request() else None)
    return urls


def pages_shown(visits: list[str], issuer: str) -> list[str]:
    """The Deskgate paths the browser went through other than the authorization endpoint."""
    return [
        urlsplit(url).path
        for url in visits
        if url.startswith(issuer) and urlsplit(url).path != "/o/authorize/"
    ]


def back_in(page: Page, app: App) -> str:
    """Wait until the browser is back at the app's redirect URI; answer that URL."""
    try:
        page.wait_for_url(f"{app.redirect_uri}?**", timeout=WAIT_MS)
    except PlaywrightTimeout:
        text = " ".join(page.inner_text("body").split())[:500]
        pytest.fail(f"not back in {app.name}; the browser is at {page.url}: {text}")
    expect(page.get_by_role("heading", name="Back in the app")).to_be_visible()
    return page.url


def enter_password(page: Page, user: User, *, again: bool = False) -> None:
    """On Deskgate's sign-in page the authorization sent the browser to."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    field = page.get_by_label("User name")
    if again:  # a signed-in user asked again: their own name is there already, and why
        expect(field).to_have_value(user.username)
        expect(page.get_by_text("asks you to sign in again")).to_be_visible()
    else:
        field.fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_in_to(page: Page, app: App, user: User, **params: str) -> SignIn:
    """A user with MFA Off signs in to the app: password, then straight back."""
    attempt = app.start(**params)
    page.goto(attempt.url)
    enter_password(page, user)
    return app.finish(attempt, back_in(page, app))


def sign_in_with_email_code(
    page: Page, app: App, user: User, mail: SmtpServer, *, remember: bool = False
) -> SignIn:
    attempt = app.start()
    page.goto(attempt.url)
    enter_password(page, user)
    expect_code_step(page, "email", user.masked_mfa_destination())
    enter_code(page, code_in(mail.wait_for(user.email).body), remember=remember)
    return app.finish(attempt, back_in(page, app))


def authorized_events(user: User) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="oidc.authorized", subject=user).order_by("id"))


# --- 1-3: each kind of user, the code flow with PKCE, amr ------------------------------------


def test_off_user_code_flow_with_pkce(page: Page, app: App, user_factory, tenant: Client) -> None:
    otto = user_factory("agent", "off", username="otto.off", full_name="Otto Off")

    signed = sign_in_to(page, app, otto)

    claims = signed.claims
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == ACR_ONE_FACTOR
    assert claims["sub"] == str(otto.subject) and claims["sub"] != otto.username
    assert claims["sid"]
    info = signed.userinfo
    assert info["sub"] == claims["sub"]
    assert info["preferred_username"] == "otto.off" and info["name"] == "Otto Off"
    assert info["deskgate_client"] == {"id": tenant.pk, "slug": tenant.slug, "name": "Northwind"}
    assert info["deskgate_level"] == "agent"
    assert info["email_verified"] is False  # no code went to the address, no SSO vouched
    [event] = authorized_events(otto)
    assert event.detail["amr"] == ["pwd"] and event.detail["app"] == "Agent desktop"


def test_email_code_user_gets_otp_and_mfa(
    page: Page, app: App, user_factory, mail: SmtpServer
) -> None:
    emma = user_factory("agent", "email", username="emma.email", email="emma@example.com")
    assert emma.email_verified is False

    signed = sign_in_with_email_code(page, app, emma, mail)

    assert signed.claims["amr"] == ["pwd", "otp", "mfa"]
    assert signed.claims["acr"] == ACR_MFA
    assert signed.userinfo["email"] == "emma@example.com"
    assert signed.userinfo["email_verified"] is True  # a code was delivered to it
    assert len(mail.messages) == 1


def test_sms_code_user_gets_sms_and_mfa(page: Page, app: App, user_factory, sms: Kannel) -> None:
    sami = user_factory("agent", "sms", username="sami.sms", work_phone="+358401234567")
    attempt = app.start()
    page.goto(attempt.url)
    enter_password(page, sami)
    expect_code_step(page, "SMS", sami.masked_mfa_destination())
    enter_code(page, code_in(sms.wait_for(to="+358401234567").text))

    signed = app.finish(attempt, back_in(page, app))

    assert signed.claims["amr"] == ["pwd", "sms", "mfa"]
    assert signed.claims["acr"] == ACR_MFA
    assert signed.userinfo["email_verified"] is False  # the code went to the phone


# --- 4: the company's SSO -------------------------------------------------------------------


def sign_in_with_sso(page: Page, company: str, login: str) -> None:
    """From Deskgate's sign-in page: Sign in with SSO, the company, the provider's login."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Company").fill(company)
    page.get_by_role("button", name="Continue to your provider").click()
    provider_login(page, login)


def test_sso_user_gets_fed_and_no_code(
    page: Page, app: App, tenant: Client, sso_for, user_factory, mail: SmtpServer, visits
) -> None:
    sso_for(tenant)
    anna = user_factory("agent", "email", username="anna", email="anna@northwind.example")
    attempt = app.start()
    page.goto(attempt.url)
    sign_in_with_sso(page, "Northwind", "anna")

    signed = app.finish(attempt, back_in(page, app))

    assert "fed" in signed.claims["amr"] and "pwd" not in signed.claims["amr"]
    assert signed.claims["amr"] == ["fed"]  # the provider said nothing of MFA
    assert signed.userinfo["sub"] == str(anna.subject)
    assert signed.userinfo["email_verified"] is True  # the provider vouched for it
    assert "/signin/code/" not in pages_shown(visits, app.issuer)
    assert mail.messages == []


# --- 5: single sign-on across apps ----------------------------------------------------------


def test_second_app_needs_no_second_password_or_code(
    page: Page, app_factory: Callable[..., App], user_factory, mail: SmtpServer, visits
) -> None:
    desktop, reports = app_factory("Agent desktop"), app_factory("Reports")
    emma = user_factory("agent", "email")
    first = sign_in_with_email_code(page, desktop, emma, mail)

    visits.clear()
    attempt = reports.start()
    page.goto(attempt.url)
    second = reports.finish(attempt, back_in(page, reports))

    assert pages_shown(visits, reports.issuer) == []  # straight back with a code
    assert len(mail.messages) == 1  # no second code
    assert second.claims["sub"] == first.claims["sub"]
    assert second.claims["sid"] == first.claims["sid"]  # the same Deskgate session
    assert second.claims["amr"] == ["pwd", "otp", "mfa"]  # what that session checked
    assert second.claims["auth_time"] == first.claims["auth_time"]
    assert second.claims["aud"] != first.claims["aud"]
    assert [e.detail["app"] for e in authorized_events(emma)] == ["Agent desktop", "Reports"]


# --- 6, 7: prompt=login, max_age=0, prompt=none ----------------------------------------------


@pytest.mark.parametrize("ask", [{"prompt": "login"}, {"max_age": "0"}], ids=["prompt", "max_age"])
def test_sign_in_again_when_the_app_asks(
    page: Page, app: App, user_factory, mail: SmtpServer, visits, ask: dict[str, str]
) -> None:
    emma = user_factory("agent", "email")
    first = sign_in_with_email_code(page, app, emma, mail)
    time.sleep(1.05)  # auth_time counts whole seconds

    attempt = app.start(**ask)
    page.goto(attempt.url)
    enter_password(page, emma, again=True)
    expect_code_step(page, "email", emma.masked_mfa_destination(), signed_in=True)
    second_mail = mail.wait_for(lambda m: m is not mail.messages[0])
    enter_code(page, code_in(second_mail.body))
    again = app.finish(attempt, back_in(page, app))

    assert again.claims["auth_time"] > first.claims["auth_time"]
    assert again.claims["amr"] == ["pwd", "otp", "mfa"]
    assert again.claims["sid"] == first.claims["sid"]  # the same session, signed in anew


def test_prompt_none_answers_without_a_page(page: Page, app: App, user_factory, visits) -> None:
    otto = user_factory("agent", "off")

    attempt = app.start(prompt="none")
    page.goto(attempt.url)
    answer = app.answer(attempt, back_in(page, app))
    assert answer["error"] == "login_required" and "code" not in answer
    assert pages_shown(visits, app.issuer) == []

    sign_in_to(page, app, otto)
    visits.clear()
    attempt = app.start(prompt="none")
    page.goto(attempt.url)
    signed = app.finish(attempt, back_in(page, app))
    assert signed.claims["sub"] == str(otto.subject)
    assert pages_shown(visits, app.issuer) == []


# --- 8: step-up -----------------------------------------------------------------------------


def test_step_up_asks_for_the_code_an_sso_sign_in_skipped(
    page: Page, app: App, tenant: Client, sso_for, user_factory, mail: SmtpServer
) -> None:
    sso_for(tenant)  # the provider does no MFA; Deskgate does not demand it of SSO
    anna = user_factory("agent", "email", username="anna", email="anna@northwind.example")
    attempt = app.start()
    page.goto(attempt.url)
    sign_in_with_sso(page, "Northwind", "anna")
    assert app.finish(attempt, back_in(page, app)).claims["amr"] == ["fed"]
    assert mail.messages == []

    attempt = app.start(acr_values=ACR_MFA)
    page.goto(attempt.url)
    expect_code_step(page, "email", anna.masked_mfa_destination(), signed_in=True)
    enter_code(page, code_in(mail.wait_for(anna.email).body))
    stepped = app.finish(attempt, back_in(page, app))

    assert stepped.claims["amr"] == ["fed", "otp", "mfa"]
    assert stepped.claims["acr"] == ACR_MFA


def test_a_remembered_device_is_no_factor_and_step_up_still_asks_the_code(
    page: Page, app: App, user_factory, mail: SmtpServer
) -> None:
    rita = user_factory("agent", "email")
    first = sign_in_with_email_code(page, app, rita, mail, remember=True)
    assert first.claims["amr"] == ["pwd", "otp", "mfa"]
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    # The remembered device skips the code, and the app is told only of the password.
    remembered = sign_in_to(page, app, rita)
    assert remembered.claims["amr"] == ["pwd"] and remembered.claims["acr"] == ACR_ONE_FACTOR
    assert len(mail.messages) == 1

    attempt = app.start(acr_values=ACR_MFA)
    page.goto(attempt.url)
    expect_code_step(page, "email", rita.masked_mfa_destination(), signed_in=True)
    enter_code(page, code_in(mail.wait_for(lambda m: m is not mail.messages[0]).body))
    stepped = app.finish(attempt, back_in(page, app))

    assert stepped.claims["amr"] == ["pwd", "otp", "mfa"] and stepped.claims["acr"] == ACR_MFA
    assert stepped.claims["sid"] == remembered.claims["sid"]


def test_step_up_for_a_user_without_mfa_is_unmet(page: Page, app: App, user_factory) -> None:
    otto = user_factory("agent", "off")
    sign_in_to(page, app, otto)

    attempt = app.start(acr_values=ACR_MFA)
    page.goto(attempt.url)
    answer = app.answer(attempt, back_in(page, app))

    assert answer["error"] == "unmet_authentication_requirements" and "code" not in answer


# --- 9, 10: refusals ------------------------------------------------------------------------


def test_app_restricted_to_a_client_refuses_another_clients_user(
    page: Page, app_factory: Callable[..., App], tenant_factory, user_factory
) -> None:
    tenant_factory("Contoso")
    wallboard = app_factory("Wallboard", clients=("Contoso",))
    otto = user_factory("agent", "off")  # of Northwind

    attempt = wallboard.start()
    page.goto(attempt.url)
    enter_password(page, otto)
    answer = wallboard.answer(attempt, back_in(page, wallboard))

    assert answer == {"error": "access_denied", "state": attempt.state, "iss": wallboard.issuer}
    [refused] = AuditEvent.objects.filter(action="oidc.refused", subject=otto)
    assert refused.detail["app"] == "Wallboard"
    assert not authorized_events(otto)


def test_wrong_redirect_uri_is_an_error_page_not_a_redirect(
    page: Page, app: App, app_server: AppServer, user_factory
) -> None:
    elsewhere = f"{app_server.url}/not-registered/callback"
    attempt = app.start(redirect_uri=elsewhere)
    assert f"redirect_uri={elsewhere.replace(':', '%3A').replace('/', '%2F')}" in attempt.url

    response = page.goto(attempt.url)

    assert response is not None and response.status == 400
    expect(
        page.get_by_role("heading", name="This app's sign-in link does not work")
    ).to_be_visible()
    expect(page.get_by_text("invalid_request")).to_be_visible()
    assert page.url.startswith(app.issuer + "/o/authorize/")
    assert app_server.arrivals == []  # nothing went to the address given
