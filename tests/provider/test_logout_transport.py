"""The POST of a logout token (`logout.post_form`) against real loopback servers, plain
and TLS: one deadline for the whole exchange, certificates checked against the system's
trust store (SSL_CERT_FILE adds the operator's CA)."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deskgate.provider import logout


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "app.pem", directory / "app.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class App:
    def __init__(self, *, trickle: bool, tls: tuple[Path, Path] | None) -> None:
        self.bodies: list[bytes] = []
        self.stop = threading.Event()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # the stdlib's name
                app.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                if trickle:
                    for byte in b"HTTP/1.1 200 OK\r\n" + b"X" * 100:
                        if app.stop.wait(0.2):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.uri = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    apps: list[App] = []

    def make(*, trickle: bool = False, tls: bool = False) -> App:
        app = App(trickle=trickle, tls=self_signed(tmp_path) if tls else None)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.mark.parametrize("tls", [False, True])
def test_the_form_is_posted(
    serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    app = serve(tls=tls)
    if tls:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "app.pem"))  # the operator's CA
    assert logout.post_form(app.uri, {"logout_token": "a.b.c"}, seconds=5) == 200
    assert app.bodies == [b"logout_token=a.b.c"]


def test_an_unknown_certificate_is_refused(serve) -> None:
    app = serve(tls=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        logout.post_form(app.uri, {"logout_token": "a.b.c"}, seconds=5)


@pytest.mark.parametrize("tls", [False, True])
def test_a_trickling_answer_ends_at_the_deadline(
    serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    app = serve(trickle=True, tls=tls)
    if tls:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "app.pem"))
    started = time.monotonic()
    # The socket is shut under the read: a cut status line, or a reset, whichever comes.
    with pytest.raises((OSError, http.client.HTTPException)):
        logout.post_form(app.uri, {"logout_token": "a.b.c"}, seconds=1.0)
    assert time.monotonic() - started < 3
