"""A relying party's two sides for the logout tests: a real loopback HTTP app that receives
back-channel logout tokens, and the code flow an app runs against Deskgate (PKCE S256,
client_secret_basic) through a signed-in browser (Django's test client).

Tokens are checked with joserfc against Deskgate's published JWKS, as an app would.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.test import Client as HttpClient
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.provider import registry

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Received:
    logout_token: str
    content_type: str
    at: float


class LoopbackApp:
    """An app's back-channel logout endpoint on 127.0.0.1 (a random port), in a thread.

    It records every POSTed `logout_token`. `status` is what it answers (200, or 500 to
    fail); `hold`, when set, makes it wait for `release` before answering (a slow app);
    `trickle` sends its answer a byte every 0.2 s (for at most 20 s, or until `release`).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.hold = False
        self.trickle = False
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.answered: list[float] = []
        self._lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                with app._lock:
                    app.received.append(
                        Received(
                            logout_token=form.get("logout_token", [""])[0],
                            content_type=self.headers.get("Content-Type", ""),
                            at=time.monotonic(),
                        )
                    )
                app.arrived.set()
                if app.hold:
                    app.release.wait(15)
                if app.trickle:
                    self._trickle()
                    return
                self.send_response(app.status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()
                with app._lock:
                    app.answered.append(time.monotonic())

            def _trickle(self) -> None:
                ends = time.monotonic() + 20
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 200:
                    if time.monotonic() > ends or app.release.wait(0.2):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base}/backchannel-logout"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base}/signed-out"

    def tokens(self) -> list[str]:
        with self._lock:
            return [r.logout_token for r in self.received]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class RegisteredApp:
    name: str
    client_id: str
    client_secret: str
    loopback: LoopbackApp


@dataclass
class Tokens:
    """What one app got for one sign-in."""

    app: RegisteredApp
    id_token: str
    access_token: str
    refresh_token: str
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def sid(self) -> str:
        return str(self.claims["sid"])


def register(name: str, loopback: LoopbackApp, *, backchannel: bool = True) -> RegisteredApp:
    registered = registry.register_app(
        registry.AppInput(
            name=name,
            redirect_uris=[loopback.redirect_uri],
            post_logout_redirect_uris=[loopback.post_logout_redirect_uri],
            backchannel_logout_uri=loopback.backchannel_logout_uri if backchannel else "",
        ),
        by=OPERATOR,
    )
    assert registered.client_secret is not None
    return RegisteredApp(name, registered.application.client_id, registered.client_secret, loopback)


def issuer() -> str:
    return str(settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"])


def key_set(http: HttpClient | None = None) -> KeySet:
    answer = (http or HttpClient()).get("/o/jwks/")
    assert answer.status_code == 200
    return KeySet.import_key_set(answer.json())


def basic(app: RegisteredApp) -> str:
    pair = f"{app.client_id}:{app.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def sign_in_to(http: HttpClient, app: RegisteredApp) -> Tokens:
    """The code flow of `app` in a browser already signed in to Deskgate (single sign-on:
    no page is shown), then the code exchanged at the token endpoint."""
    verifier = secrets.token_urlsafe(48)
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    answer = http.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.loopback.redirect_uri,
            "scope": "openid profile offline_access",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code == 302, answer.content[:500]
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == app.loopback.redirect_uri
    query = parse_qs(location.query)
    assert query["state"] == [state]
    exchange = HttpClient().post(
        "/o/token/",
        urlencode(
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": app.loopback.redirect_uri,
                "code_verifier": verifier,
            }
        ),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(app),
    )
    assert exchange.status_code == 200, exchange.content[:500]
    body = exchange.json()
    assert body.get("refresh_token"), body
    id_token = jwt.decode(body["id_token"], key_set(), algorithms=["RS256"])
    assert id_token.claims["nonce"] == nonce
    return Tokens(
        app, body["id_token"], body["access_token"], body["refresh_token"], id_token.claims
    )


def userinfo_status(tokens: Tokens) -> int:
    answer = HttpClient().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens.access_token}")
    return int(answer.status_code)


def refresh(tokens: Tokens) -> int:
    """Use the refresh token (rotating it on success); answer the HTTP status."""
    answer = HttpClient().post(
        "/o/token/",
        urlencode({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(tokens.app),
    )
    if answer.status_code == 200:
        body = answer.json()
        tokens.access_token, tokens.refresh_token = body["access_token"], body["refresh_token"]
    return int(answer.status_code)


def verified_logout_token(raw: str, app: RegisteredApp, user: User, keys: KeySet) -> dict[str, Any]:
    """Verify a logout token as Back-Channel Logout 1.0 section 2.6 asks an app to; answer
    its claims."""
    token = jwt.decode(raw, keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["typ"] == "logout+jwt"
    assert token.header.get("kid") in {key.kid for key in keys.keys}
    now = int(time.time())
    JWTClaimsRegistry(
        now=now,
        leeway=5,
        iss={"essential": True, "value": issuer()},
        aud={"essential": True, "value": app.client_id},
        sub={"essential": True, "value": str(user.subject)},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    ).validate(token.claims)
    claims = dict(token.claims)
    assert claims["iat"] <= now + 5 < claims["exp"] + 5
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in claims
    return claims
