"""Scripted OpenID Connect providers on loopback, for what panva's oidc-provider cannot be
made to do: answer with a chosen discovery document, send a UserInfo answer for another
subject, redirect, or accept a connection and never answer.

    with ScriptedProvider() as idp:          # http://127.0.0.1:<port>, serves at once
        idp.discovery["authorization_endpoint"] = "https://elsewhere.example/auth"
        idp.id_token_claims = {"sub": "sub-anna"}           # signed with idp's own key
        idp.userinfo = {"sub": "sub-anna", "email": "anna@northwind.example", ...}
        idp.requests                          # [(method, path, headers)] in order

    with Tarpit() as pit:                    # accepts connections, never answers
        pit.url, pit.connections             # Tarpit(trickle=0.2): one byte every 0.2 s

Both are plain sockets and http.server on 127.0.0.1; stop() (or the with block) closes
every connection they hold.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.harness.net import LOOPBACK

__all__ = ["ScriptedProvider", "Tarpit"]


class ScriptedProvider:
    """Discovery, JWKS, token and UserInfo endpoints whose answers a test sets.

    `routes` maps a path to (status, headers, body) and wins over the built-in endpoints,
    e.g. `idp.routes["/.well-known/openid-configuration"] = (302, {"Location": url}, b"")`.
    """

    def __init__(self, client_id: str = "deskgate-test") -> None:
        self.client_id = client_id
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.id_token_claims: dict[str, Any] = {"sub": "sub-anna"}
        self.userinfo: dict[str, Any] | None = None
        self.nonce = ""
        self.access_token = "at-" + "x" * 20
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urllib.parse.urlsplit(self.path).path
                owner.requests.append((self.command, path, dict(self.headers.items())))
                status, headers, payload = owner.answer(self.command, path, self.headers, body)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.issuer = f"http://{LOOPBACK}:{self.server.server_port}"
        self.discovery: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/auth",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [path for _method, path, _headers in self.requests]

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            **self.id_token_claims,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)

    def answer(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path in self.routes:
            return self.routes[path]
        if path == "/.well-known/openid-configuration":
            return 200, {}, json.dumps(self.discovery).encode()
        if path == "/jwks":
            return 200, {}, json.dumps({"keys": [self.key.as_dict(private=False)]}).encode()
        if path == "/token" and method == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if form.get("code") == "deskgate-connection-test":
                return 400, {}, b'{"error": "invalid_grant"}'
            token = {"access_token": self.access_token, "token_type": "Bearer", "expires_in": 60}
            return 200, {}, json.dumps({**token, "id_token": self.id_token()}).encode()
        if path == "/userinfo" and self.userinfo is not None:
            if headers.get("Authorization") != f"Bearer {self.access_token}":
                return 401, {}, b'{"error": "invalid_token"}'
            return 200, {}, json.dumps(self.userinfo).encode()
        return 404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> ScriptedProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Tarpit:
    """A TCP server on loopback that accepts every connection and never answers a request:
    silent, or (trickle=seconds) sending one byte of a never-ending header that often."""

    def __init__(self, trickle: float | None = None) -> None:
        self.trickle = trickle
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = self.listener.accept()
                self.connections += 1
                self._held.append(conn)
                if self.trickle is not None:
                    threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._stopping.is_set():
                conn.sendall(b"a")
                time.sleep(self.trickle or 0.2)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()
        self.listener.close()

    def __enter__(self) -> Tarpit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
