"""The "Agent desktop": a small, real app that signs in through Deskgate (OpenID Connect).

Run `make app-demo` in a second terminal while `make run` serves; it reads the app's
credentials from var/agent-desktop.json (written by `make run`'s `deskgate load-demo`) and
serves http://127.0.0.1:8001/. Ctrl-C stops it.

What a relying party does, with Authlib's OpenID Connect client and nothing hand-written
for the protocol: discovery from the issuer's /.well-known/openid-configuration (checked
by Authlib's `OpenIDProviderMetadata`), the code flow with PKCE (S256), state and nonce
(`OAuth2Session`), the ID token verified against the JWKS (joserfc, Authlib's
`CodeIDToken`: issuer, audience, expiry, nonce, at_hash), UserInfo, RP-initiated logout
(id_token_hint, post_logout_redirect_uri) and back-channel logout tokens verified the
same way, which end the app's session with that `sid`.

The app's own session lives in this process's memory, behind a cookie holding a random
id; the web server is the standard library's. The tests start it on a free port
(`AgentDesktop(settings, port=0).start()`); tests/browser/test_app_demo.py walks it.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.claims import JWTClaims
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = Path(os.environ.get("AGENT_DESKTOP_CREDENTIALS", ROOT / "var/agent-desktop.json"))
SCOPE = "openid profile email deskgate"
COOKIE = "agent_desktop_session"  # not Deskgate's: cookies are shared by every port of a host
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 10.0  # seconds for each call to Deskgate
LEEWAY = 60  # seconds of clock skew allowed on iat/exp

# RFC 8176 method values as Deskgate uses them (docs/oidc.md), in a person's words.
AMR_WORDS = {
    "pwd": "password",
    "otp": "code by email",
    "sms": "code by SMS",
    "fed": "company sign-in (SSO)",
}


def amr_in_words(amr: list[str]) -> str:
    """`["pwd", "sms", "mfa"]` -> "password + code by SMS" (mfa says how many, not which)."""
    words = [AMR_WORDS.get(m, m) for m in amr if m != "mfa"]
    return " + ".join(words) or "nothing reported"


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str | None  # None: a public app (PKCE only)
    url: str = "http://127.0.0.1:8001"  # where the app is served; its URIs hang off it

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        data = json.loads(path.read_text())
        return cls(data["issuer"], data["client_id"], data.get("client_secret"), data["url"])

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.url}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.url}/backchannel-logout"


class SignInFailed(Exception):
    """The sign-in did not complete; the message is shown on the page."""


class Provider:
    """Deskgate as the app sees it: the discovery document and the signing keys."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._metadata: OpenIDProviderMetadata | None = None
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    def metadata(self) -> OpenIDProviderMetadata:
        with self._lock:
            if self._metadata is None:  # fetched on first use: Deskgate may start later
                answer = requests.get(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=TIMEOUT
                )
                answer.raise_for_status()
                metadata = OpenIDProviderMetadata(answer.json())
                metadata.validate()
                if metadata["issuer"] != self.issuer:
                    raise SignInFailed(f"the discovery document names issuer {metadata['issuer']}")
                self._metadata = metadata
            return self._metadata

    def keys(self, *, again: bool = False) -> KeySet:
        with self._lock:
            have = self._keys
        if have is not None and not again:
            return have
        answer = requests.get(self.metadata()["jwks_uri"], timeout=TIMEOUT)
        answer.raise_for_status()
        keys = KeySet.import_key_set(answer.json())
        with self._lock:
            self._keys = keys
        return keys

    def verify(self, token: str) -> jwt.Token:
        """The token's signature checked against the JWKS (fetched again once for a new
        `kid`: Deskgate rotated its key); the claims are the caller's to check."""
        registry = JWSRegistry(algorithms=["RS256"])
        try:
            return jwt.decode(token, self.keys(), registry=registry)
        except InvalidKeyIdError:
            return jwt.decode(token, self.keys(again=True), registry=registry)


@dataclass
class Session:
    """One browser's session with the app: a sign-in in progress, or a signed-in person."""

    id: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    pending: dict[str, str] | None = None  # state, nonce, code_verifier of a sign-in
    claims: dict[str, Any] | None = None  # the verified ID token's
    userinfo: dict[str, Any] | None = None
    id_token: str = ""
    error: str = ""
    notice: str = ""
    logout_state: str = ""  # the state of a sign-out sent to Deskgate

    @property
    def sid(self) -> str:
        return str((self.claims or {}).get("sid", ""))


class AgentDesktop:
    """The app: its sessions, its sign-in and sign-out, and its web server."""

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int | None = None):
        self.settings = settings
        self.provider = Provider(settings.issuer)
        self.sessions: dict[str, Session] = {}
        self.ended_by_deskgate: list[str] = []  # sids that back-channel logouts ended
        self._lock = threading.Lock()
        bind_port = urlsplit(settings.url).port if port is None else port
        self.server = ThreadingHTTPServer((host, bind_port or 8001), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- sessions -------------------------------------------------------------------------

    def session(self, cookie_header: str | None) -> Session | None:
        jar: SimpleCookie = SimpleCookie()
        if cookie_header:
            jar.load(cookie_header)
        morsel = jar.get(COOKIE)
        with self._lock:
            return self.sessions.get(morsel.value) if morsel else None

    def new_session(self) -> Session:
        session = Session(secrets.token_urlsafe(32))
        with self._lock:
            self.sessions[session.id] = session
        return session

    def forget(self, *, sid: str = "", sub: str = "") -> int:
        """End the sessions of that Deskgate session (`sid`), or of that person (`sub`)."""
        with self._lock:
            gone = [
                s.id
                for s in self.sessions.values()
                if s.claims and (s.sid == sid if sid else str(s.claims.get("sub")) == sub)
            ]
            for key in gone:
                self.sessions[key] = Session(key, notice="Deskgate ended your session.")
        return len(gone)

    # --- the flows ------------------------------------------------------------------------

    def _client(self) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=SCOPE,
            redirect_uri=self.settings.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic"
            if self.settings.client_secret
            else "none",
        )

    def begin_sign_in(self, session: Session, *, extra: dict[str, str] | None = None) -> str:
        """Where to send the browser: Deskgate's authorization endpoint."""
        pending = {"nonce": generate_token(32), "code_verifier": generate_token(64)}
        with self._client() as client:
            url, state = client.create_authorization_url(
                self.provider.metadata()["authorization_endpoint"],
                code_verifier=pending["code_verifier"],
                nonce=pending["nonce"],
                **(extra or {}),
            )
        session.pending = {**pending, "state": state}
        session.error = session.notice = ""
        return str(url)

    def finish_sign_in(self, session: Session, callback_url: str) -> None:
        """The code from the callback for tokens; the ID token verified; UserInfo read."""
        pending, session.pending = session.pending, None
        query = parse_qs(urlsplit(callback_url).query)
        if pending is None or query.get("state", [""])[0] != pending["state"]:
            raise SignInFailed("This sign-in was not started here (state does not match).")
        if "error" in query:
            why = query.get("error_description", query["error"])[0]
            raise SignInFailed(f"Deskgate said no: {why}")
        metadata = self.provider.metadata()
        with self._client() as client:
            token = client.fetch_token(
                metadata["token_endpoint"],
                authorization_response=callback_url,
                code_verifier=pending["code_verifier"],
                state=pending["state"],
                timeout=TIMEOUT,
            )
            claims = self._id_token_claims(token, pending["nonce"])
            answer = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
            answer.raise_for_status()
            userinfo = answer.json()
        if userinfo.get("sub") != claims["sub"]:
            raise SignInFailed("UserInfo is about someone else than the ID token.")
        session.claims, session.userinfo = claims, userinfo
        session.id_token = str(token["id_token"])

    def _id_token_claims(self, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        if "id_token" not in token:
            raise SignInFailed("Deskgate sent no ID token.")
        verified = self.provider.verify(token["id_token"])
        claims = CodeIDToken(
            verified.claims,
            verified.header,
            {
                "iss": {"essential": True, "value": self.settings.issuer},
                # Authlib checks the audience only through azp: say it outright.
                "aud": {"essential": True, "value": self.settings.client_id},
            },
            {
                "nonce": nonce,
                "client_id": self.settings.client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate(leeway=LEEWAY)
        return dict(claims)

    def sign_out(self, session: Session) -> str:
        """Forget the person here; answer Deskgate's end-session URL, which ends theirs."""
        id_token, state = session.id_token, generate_token(20)
        with self._lock:
            self.sessions[session.id] = Session(session.id, logout_state=state)
        query = {
            "client_id": self.settings.client_id,
            "post_logout_redirect_uri": self.settings.post_logout_redirect_uri,
            "state": state,
        }
        if id_token:
            query["id_token_hint"] = id_token
        return f"{self.provider.metadata()['end_session_endpoint']}?{urlencode(query)}"

    def backchannel_logout(self, logout_token: str) -> int:
        """Verify a logout token (Back-Channel Logout 1.0, 2.6) and end its sessions."""
        verified = self.provider.verify(logout_token)
        claims = JWTClaims(
            verified.claims,
            verified.header,
            {
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
                "iat": {"essential": True},
                "exp": {"essential": True},
                "jti": {"essential": True},
            },
        )
        claims.validate(leeway=LEEWAY)
        events = claims.get("events")
        if not isinstance(events, dict) or LOGOUT_EVENT not in events:
            raise SignInFailed("not a logout token: no back-channel logout event")
        if "nonce" in claims:
            raise SignInFailed("a logout token carries no nonce")
        sid, sub = str(claims.get("sid", "")), str(claims.get("sub", ""))
        if not sid and not sub:
            raise SignInFailed("a logout token names a sid or a sub")
        ended = self.forget(sid=sid, sub=sub)
        with self._lock:
            self.ended_by_deskgate.append(sid or sub)
        return ended

    # --- the server -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> AgentDesktop:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="agent-desktop", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> AgentDesktop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- pages ----------------------------------------------------------------------------------

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
    "header{display:flex;justify-content:space-between;align-items:center}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}"
    "button{font:inherit;padding:.4rem 1rem}.error{color:#a00}.notice{color:#05a}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><header><strong>Agent desktop</strong>"
        f"<small>signs in with Deskgate</small></header>{body}</body></html>"
    ).encode()


def home_page(app: AgentDesktop, session: Session | None) -> bytes:
    e = html.escape
    if session is None or session.claims is None:
        message = ""
        if session is not None and session.error:
            message = f'<p class="error" role="alert">{e(session.error)}</p>'
        elif session is not None and session.notice:
            message = f'<p class="notice" role="status">{e(session.notice)}</p>'
        return _page(
            "Agent desktop",
            f"<h1>Welcome to the Agent desktop</h1>{message}<p>You are not signed in.</p>"
            '<form method="post" action="/signin"><button type="submit">Sign in with Deskgate'
            "</button></form>",
        )
    claims, info = session.claims, session.userinfo or {}
    client = info.get("deskgate_client") or claims.get("deskgate_client") or {}
    level = str(info.get("deskgate_level") or claims.get("deskgate_level") or "")
    amr = [str(m) for m in claims.get("amr", [])]
    factors = "two factors" if "mfa" in amr else "one factor"
    signed_in_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims.get("auth_time", 0)))
    rows = [
        ("Name", info.get("name", "")),
        ("User name", info.get("preferred_username", "")),
        ("Email", info.get("email", "")),
        ("Client", client.get("name", "")),
        ("Level", level.replace("_", " ")),
        ("Signed in with", f"{amr_in_words(amr)} ({factors})"),
        ("amr", " ".join(amr)),
        ("acr", claims.get("acr", "")),
        ("Signed in at", signed_in_at),
        ("App", app.settings.client_id),
    ]
    listing = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in rows)
    return _page(
        "Agent desktop",
        f"<h1>Hello, {e(str(info.get('name', '')))}</h1><dl>{listing}</dl>"
        '<form method="post" action="/signout">'
        f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
        '<button type="submit">Sign out</button></form>'
        "<p><small>Sign out here ends your Deskgate session too; signing out in Deskgate "
        "ends this one (back-channel logout).</small></p>",
    )


def _handler(app: AgentDesktop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "AgentDesktop/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the stdlib's name
            # The path without its query: callbacks carry codes.
            sys.stderr.write(
                f"agent desktop: {self.command} {urlsplit(self.path).path} {args[1:]}\n"
            )

        def do_GET(self) -> None:  # noqa: N802  # the stdlib's name
            path = urlsplit(self.path).path
            session = app.session(self.headers.get("Cookie"))
            if path == "/":
                state = parse_qs(urlsplit(self.path).query).get("state", [""])[0]
                if state:  # back from Deskgate's end-session endpoint
                    if (
                        session is not None
                        and session.logout_state
                        and secrets.compare_digest(state, session.logout_state)
                    ):
                        session.logout_state = ""
                        session.notice = "You are signed out of the Agent desktop and Deskgate."
                    self._redirect("/")
                    return
                self._send(200, home_page(app, session))
            elif path == "/callback":
                if session is None:
                    self._redirect("/")
                    return
                try:
                    app.finish_sign_in(session, f"{app.settings.url}{self.path}")
                except (SignInFailed, JoseError, requests.RequestException, ValueError) as exc:
                    session.error = f"Sign-in failed: {exc}"
                self._redirect("/")
            else:
                self._send(404, _page("Not found", "<h1>Not found</h1>"))

        def do_POST(self) -> None:  # noqa: N802  # the stdlib's name
            path = urlsplit(self.path).path
            form = self._form()
            if path == "/backchannel-logout":
                self._backchannel(form)
                return
            session = app.session(self.headers.get("Cookie"))
            if path == "/signin":
                session = session or app.new_session()
                try:
                    target = app.begin_sign_in(session)
                except (SignInFailed, requests.RequestException, ValueError) as exc:
                    session.error = f"Deskgate cannot be reached: {exc}"
                    target = "/"
                self._redirect(target, session)
            elif path == "/signout":
                if session is None or not secrets.compare_digest(
                    form.get("csrf", ""), session.csrf
                ):
                    self._redirect("/")
                    return
                self._redirect(app.sign_out(session))
            else:
                self._send(404, _page("Not found", "<h1>Not found</h1>"))

        def _backchannel(self, form: dict[str, str]) -> None:
            try:
                app.backchannel_logout(form.get("logout_token", ""))
            except (SignInFailed, JoseError, requests.RequestException, ValueError) as exc:
                body = json.dumps({"error": "invalid_request", "error_description": str(exc)})
                self._send(400, body.encode(), "application/json")
                return
            self._send(200, b"", "text/plain")

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def _redirect(self, location: str, session: Session | None = None) -> None:
            self.send_response(303)
            self.send_header("Location", location)
            if session is not None:
                self.send_header(
                    "Set-Cookie", f"{COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Lax"
                )
            self.send_header("Content-Length", "0")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()

        def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> None:
    if not CREDENTIALS.exists():
        sys.exit(f"{CREDENTIALS} is missing: run `make run` first (it registers the Agent desktop)")
    settings = Settings.from_file(CREDENTIALS)
    app = AgentDesktop(settings)
    print(f"Agent desktop on {settings.url}/ signing in with {settings.issuer} (Ctrl-C stops it).")
    print(
        "Sign in as sami.agent (code by SMS) or aino.agent (code by email), password "
        f"shift-start-coffee-42; the codes are on Deskgate's outbox page, {settings.issuer}/outbox/"
    )
    sys.stdout.flush()
    try:
        app.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.server.server_close()


if __name__ == "__main__":
    main()
