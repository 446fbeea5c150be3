"""The OpenID Connect test provider works: discovery, a full Authorization Code + PKCE sign-in
in Chromium on its development login page, the token exchange and the ID token's checks.

Plain Python, no Django views: the "client" here is a tiny http.server that catches the
redirect and Authlib, as in the product: OAuth2Session (on `requests`) for the authorization
URL with PKCE and the token exchange, authlib.jose for the ID token against the provider's
JWKS. The token endpoint's error answers are checked with plain urllib.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import need
from tests.harness.net import LOOPBACK, free_port
from tests.harness.oidc import (
    CALLBACK_PATH,
    TEST_ACCOUNTS,
    TEST_CLIENT,
    OidcProvider,
    OidcProviderError,
    oidc_missing,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CLIENT_ID = TEST_CLIENT["client_id"]
SECRET = TEST_CLIENT["client_secret"]


def need_provider() -> None:
    """For a test that starts a provider of its own."""
    missing = oidc_missing()
    need(missing is None, f"the OpenID Connect test provider ({missing})")


# -- a relying party in a few lines -----------------------------------------------------------


class Callback:
    """http://127.0.0.1:<port>/signin/sso/callback/ that keeps the query it was called with."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urllib.parse.urlsplit(self.path)
                if url.path == CALLBACK_PATH:
                    received.append(dict(urllib.parse.parse_qsl(url.query)))
                body = b"<!DOCTYPE html><title>Callback</title><p>got it</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.redirect_uri = f"http://{LOOPBACK}:{self.server.server_port}{CALLBACK_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def callback() -> Iterator[Callback]:
    server = Callback()
    try:
        yield server
    finally:
        server.close()


def authorization_url(
    provider: OidcProvider, redirect_uri: str, *, state: str, nonce: str, verifier: str | None
) -> str:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
    }
    if verifier is not None:
        params["code_challenge"] = create_s256_code_challenge(verifier)
        params["code_challenge_method"] = "S256"
    endpoint = provider.discovery["authorization_endpoint"]
    return endpoint + "?" + urllib.parse.urlencode(params)


def token_request(
    provider: OidcProvider,
    form: dict[str, str],
    *,
    client_id: str = CLIENT_ID,
    secret: str = SECRET,
    method: str = "client_secret_basic",
) -> tuple[int, dict[str, Any]]:
    """POST to the token endpoint; (HTTP status, JSON answer)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if method == "client_secret_basic":
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form = {**form, "client_id": client_id, "client_secret": secret}
    request = urllib.request.Request(  # noqa: S310 - the provider on loopback
        provider.discovery["token_endpoint"],
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        answer: dict[str, Any] = json.load(response)
        return answer


def check_id_token(provider: OidcProvider, id_token: str, nonce: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(get_json(provider.discovery["jwks_uri"]))  # type: ignore[arg-type]
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": CLIENT_ID},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    assert token.header["alg"] == "RS256"
    return dict(token.claims)


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    need(os.path.exists(CHROMIUM), "Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A tab with its own cookies that may only reach loopback."""
    context = chromium.new_context()
    context.set_default_timeout(5_000)
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host in (LOOPBACK, "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
    assert not outside, f"the pages asked for addresses off this machine: {outside}"


def sign_in(page: Any, login: str) -> None:
    """oidc-provider's development login page, as a person fills it in."""
    from playwright.sync_api import expect

    expect(page).to_have_title("Sign-in")
    expect(page.get_by_role("heading", name="Sign-in")).to_be_visible()
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("any password will do")
    page.get_by_role("button", name="Sign-in").click()


def wait_for_callback(page: Any, callback: Callback, provider: OidcProvider) -> None:
    from playwright.sync_api import Error

    try:
        page.wait_for_url(callback.redirect_uri + "?*")
    except Error as error:
        heading = page.locator("h1").all_inner_texts()
        raise AssertionError(
            f"no redirect to the callback; the tab is at {page.url} {heading}\n"
            f"provider's stderr:\n{provider.stderr()}"
        ) from error


def browser_sign_in(
    provider: OidcProvider,
    page: Any,
    callback: Callback,
    login: str,
    *,
    auth_method: str = "client_secret_basic",
) -> dict[str, Any]:
    """The whole Authorization Code + PKCE flow, as Authlib's client does it; the checked
    ID token's claims, with UserInfo's when the provider conforms (keeps them there)."""
    from authlib.integrations.requests_client import OAuth2Session

    nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    session = OAuth2Session(
        CLIENT_ID,
        SECRET,
        scope="openid email profile",
        redirect_uri=callback.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )
    url, state = session.create_authorization_url(
        provider.discovery["authorization_endpoint"], nonce=nonce, code_verifier=verifier
    )
    page.goto(url)
    sign_in(page, login)
    wait_for_callback(page, callback, provider)
    (answer,) = callback.received
    assert answer["state"] == state
    assert answer["iss"] == provider.issuer  # RFC 9207
    token = session.fetch_token(
        provider.discovery["token_endpoint"],
        code=answer["code"],
        code_verifier=verifier,
        timeout=5,
    )
    assert token["token_type"].lower() == "bearer"
    claims = check_id_token(provider, token["id_token"], nonce)
    if provider.conform_id_token_claims:
        # oidc-provider's default: email and profile claims only at the userinfo endpoint.
        assert "email" not in claims and "name" not in claims
        request = urllib.request.Request(  # noqa: S310 - the provider on loopback
            provider.discovery["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            userinfo = json.load(response)
        assert userinfo["sub"] == claims["sub"]
        assert "amr" not in userinfo  # how the person signed in is the ID token's to say
        claims = {**claims, **userinfo}
    # The code is single-use.
    status, refused = token_request(
        provider,
        {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": callback.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    return claims


# -- tests ------------------------------------------------------------------------------------


def test_discovery(oidc_provider: OidcProvider) -> None:
    doc = get_json(oidc_provider.url("/.well-known/openid-configuration"))
    assert oidc_provider.issuer.startswith(f"http://{LOOPBACK}:")
    assert doc["issuer"] == oidc_provider.issuer
    assert doc["authorization_endpoint"] == oidc_provider.url("/auth")
    assert doc["token_endpoint"] == oidc_provider.url("/token")
    assert doc["jwks_uri"] == oidc_provider.url("/jwks")
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "email", "profile"} <= set(doc["scopes_supported"])
    assert {"email", "email_verified", "name", "amr"} <= set(doc["claims_supported"])
    keys = get_json(doc["jwks_uri"])["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # only the public half is published


@pytest.mark.browser
@pytest.mark.parametrize(
    ("login", "email", "verified", "amr"),
    [
        ("sami", "sami@northwind.example", True, ["pwd", "mfa"]),
        ("anna", "anna@northwind.example", True, None),
        ("unverified", "eve@northwind.example", False, None),
    ],
)
def test_code_flow_with_pkce_in_chromium(
    oidc_provider: OidcProvider,
    page: Any,
    callback: Callback,
    login: str,
    email: str,
    verified: bool,
    amr: list[str] | None,
) -> None:
    claims = browser_sign_in(oidc_provider, page, callback, login)
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == f"sub-{login}"
    assert claims["email"] == email
    assert claims["email_verified"] is verified
    assert claims["name"] == oidc_provider.account(login)["claims"]["name"]
    assert claims.get("amr") == amr
    assert "acr" not in claims  # none of these accounts has one


@pytest.mark.browser
def test_amr_and_acr_of_an_added_account(callback: Callback, page: Any) -> None:
    need_provider()
    provider = OidcProvider([TEST_CLIENT])
    provider.add_account(
        "maria",
        "maria@northwind.example",
        sub="0b6a1e2f",
        name="Maria",
        amr=["pwd", "otp"],
        acr="urn:example:loa:2",
    )
    with provider:
        assert provider.discovery["acr_values_supported"] == ["urn:example:loa:2"]
        # The login may be typed in another case (the page shows it in capitals anyway).
        claims = browser_sign_in(
            provider, page, callback, "Maria", auth_method="client_secret_post"
        )
    assert claims["sub"] == "0b6a1e2f"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == "urn:example:loa:2"
    assert provider.returncode == 0


@pytest.mark.browser
def test_an_unknown_login_is_refused(
    oidc_provider: OidcProvider, page: Any, callback: Callback
) -> None:
    verifier = secrets.token_urlsafe(48)
    page.goto(
        authorization_url(
            oidc_provider, callback.redirect_uri, state="s1", nonce="n1", verifier=verifier
        )
    )
    sign_in(page, "nobody-at-all")
    wait_for_callback(page, callback, oidc_provider)
    (answer,) = callback.received
    assert answer["error"] == "access_denied"
    assert answer["state"] == "s1"
    assert "code" not in answer


@pytest.mark.browser
def test_cancel_on_the_login_page(
    oidc_provider: OidcProvider, page: Any, callback: Callback
) -> None:
    page.goto(
        authorization_url(
            oidc_provider, callback.redirect_uri, state="s2", nonce="n2", verifier="v" * 43
        )
    )
    page.get_by_role("link", name="[ Cancel ]").click()
    wait_for_callback(page, callback, oidc_provider)
    assert callback.received[0]["error"] == "access_denied"


def test_pkce_is_required(oidc_provider: OidcProvider) -> None:
    """Without a code_challenge the provider refuses before any login page."""
    # The live server's address: registered as http://localhost/..., any port matches.
    redirect_uri = f"http://localhost:{free_port()}{CALLBACK_PATH}"
    url = authorization_url(oidc_provider, redirect_uri, state="s3", nonce="n3", verifier=None)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(url, timeout=5)
    with caught.value as response:
        assert response.code == 303
        location = urllib.parse.urlsplit(response.headers["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert location._replace(query="").geturl() == redirect_uri  # any port on loopback
    assert query["error"] == "invalid_request"
    assert "PKCE" in query["error_description"]


def test_unregistered_redirect_uri_is_refused(oidc_provider: OidcProvider) -> None:
    for redirect_uri in (
        f"http://{LOOPBACK}:8000/elsewhere/",
        "http://localhost:8000/signin/sso/callback",  # no trailing slash
        "https://localhost:8000/signin/sso/callback/",
        "http://evil.example/signin/sso/callback/",
    ):
        url = authorization_url(
            oidc_provider, redirect_uri, state="s", nonce="n", verifier="v" * 43
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=5)  # noqa: S310 - loopback
        with caught.value as response:
            assert response.code == 400
            assert "redirect_uri" in response.read().decode()


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_authentication(oidc_provider: OidcProvider, method: str) -> None:
    """The product's credential check: a bogus code with the right secret is invalid_grant,
    with a wrong secret invalid_client. oidc-provider takes the secret either way (Basic
    header or form) from a client registered with either method."""
    form = {
        "grant_type": "authorization_code",
        "code": "deskgate-connection-test",
        "redirect_uri": "https://invalid.invalid/",
        "code_verifier": secrets.token_urlsafe(48),
    }
    status, answer = token_request(oidc_provider, form, method=method)
    assert (status, answer["error"]) == (400, "invalid_grant")
    status, answer = token_request(oidc_provider, form, method=method, secret="wrong")
    assert (status, answer["error"]) == (401, "invalid_client")
    status, answer = token_request(oidc_provider, form, method=method, client_id="nobody")
    assert (status, answer["error"]) == (401, "invalid_client")
    assert "invalid_client" in oidc_provider.stderr()


def test_harness_life_cycle(tmp_path: Path) -> None:
    need_provider()
    provider = OidcProvider(accounts=TEST_ACCOUNTS)
    provider.add_client("late", "late-secret-0123456789", ["http://127.0.0.1:1/cb"])
    with pytest.raises(OidcProviderError, match="not started"):
        _ = provider.issuer
    began = time.monotonic()
    provider.start()
    assert time.monotonic() - began < 10
    assert provider.running
    pid = provider._proc.pid if provider._proc else 0
    with pytest.raises(OidcProviderError, match="after start"):
        provider.add_account("late", "late@example.com")
    with pytest.raises(OidcProviderError, match="after start"):
        provider.add_client("later", "x" * 20, ["http://127.0.0.1/cb"])
    provider.stop()
    provider.stop()  # twice is fine
    assert not provider.running
    assert provider.returncode == 0  # it exits cleanly on SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no zombie left

    # A provider that cannot start says why, with its stderr.
    taken = OidcProvider(port=free_port())
    blocker = OidcProvider(port=taken.port).start()
    try:
        with pytest.raises(OidcProviderError, match="cannot listen"):
            taken.start()
        assert not taken.running
    finally:
        blocker.stop()

    # Without node_modules, the error says what to run.
    with pytest.raises(OidcProviderError, match=r"npm ci --prefix tests/oidc"):
        OidcProvider(oidc_dir=tmp_path).start()


def test_no_requests_to_the_internet(oidc_provider: OidcProvider) -> None:
    """The login page @imports a web font from the internet; the provider strips it."""
    url = authorization_url(
        oidc_provider,
        f"http://{LOOPBACK}:{free_port()}{CALLBACK_PATH}",
        state="s4",
        nonce="n4",
        verifier="v" * 43,
    )
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url, timeout=5) as response:
        html = response.read().decode()
        csp = response.headers["Content-Security-Policy"]
    assert 'name="login"' in html
    assert "https://" not in html and "@import" not in html
    assert "default-src 'self'" in csp
