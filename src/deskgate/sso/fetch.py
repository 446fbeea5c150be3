"""Fetching from an identity provider that a tenant admin typed in, without letting that
admin aim the server at the inside of its network (SSRF).

- https only; http only for a provider on loopback, and only when the operator allows it
  for development (DESKGATE_SSO_ALLOW_HTTP_LOOPBACK).
- The host name is resolved once, every address it has is checked (no private, loopback,
  link-local, multicast, reserved or metadata address), and the connection goes to a
  checked address: a second DNS answer (rebinding) is never asked for.
- Redirects are not followed; answers are at most MAX_BYTES.
- The whole request, DNS included, ends at one deadline: a provider that trickles bytes
  cannot hold a worker longer than a silent one.
- Errors carry only a reason class (`Reason`), never a status code or part of the answer.
"""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import certifi

from deskgate.sso.app_settings import app_settings

MAX_BYTES = 512 * 1024  # a discovery document or a key set is a few kilobytes
USER_AGENT = "Deskgate-SSO"

# Metadata services: link-local or unique-local already, named here so that no future
# change of the rules below lets them through.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Reason(StrEnum):
    """Why a fetch failed, in words an admin can act on and nothing more."""

    NOT_HTTPS = "https is required"
    BAD_URL = "not a valid URL"
    ADDRESS_NOT_ALLOWED = "address not allowed"
    NOT_RESOLVED = "the host name does not resolve"
    UNREACHABLE = "could not connect"
    TLS = "the secure connection failed"
    TIMED_OUT = "timed out"
    REDIRECTED = "redirects are not followed"
    TOO_LARGE = "the answer is too large"


TRANSIENT = {Reason.NOT_RESOLVED, Reason.UNREACHABLE, Reason.TIMED_OUT}


class FetchError(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def address_allowed(address: str, *, loopback_ok: bool) -> bool:
    """May the server connect to this IP address? Only to the public internet (and to
    loopback when `loopback_ok`)."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            address.split("%", 1)[0]
        )
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address dressed as IPv6 is judged as the IPv4 address it reaches.
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    if ip.is_loopback:
        return loopback_ok
    refused = (
        ip in METADATA
        or not ip.is_global
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    if isinstance(ip, ipaddress.IPv6Address):
        refused = refused or ip.is_site_local
    return not refused


def resolve(host: str) -> list[str]:
    """Every address of `host` (tests replace this to play a DNS server)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# getaddrinfo() has no timeout of its own: it runs here so that the caller can stop
# waiting at its deadline. A few threads: a lookup stuck in the resolver holds one.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sso-dns")


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            raise FetchError(Reason.TIMED_OUT)
        return remaining


def _addresses(host: str, deadline: _Deadline) -> list[str]:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    future = _resolver.submit(resolve, host)
    try:
        return future.result(timeout=deadline.left())
    except FutureTimeout:
        raise FetchError(Reason.TIMED_OUT) from None
    except (OSError, UnicodeError):
        raise FetchError(Reason.NOT_RESOLVED) from None


class _DeadlineSocket:
    """A socket whose every read and write waits at most until the request's deadline.

    Like socket.socket, it stays open while a file made by makefile() is: http.client
    closes the connection's socket before the answer's body is read."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline
        self._files = 0
        self._closed = False

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer, nbytes)

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(self._deadline.left())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", **_: Any) -> io.BufferedReader:
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]  # duck-typed socket

    def _decref_socketios(self) -> None:
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self._sock.close()

    def shut(self) -> None:
        """Close the socket itself, files or not (the request is over)."""
        self._sock.close()


_TLS = ssl.create_default_context(cafile=certifi.where())


class _Connection(http.client.HTTPConnection):
    """HTTP(S) to the addresses that were checked, with the host's name for TLS (SNI and
    certificate) and the Host header."""

    def __init__(
        self, host: str, port: int, *, addresses: list[str], tls: bool, deadline: _Deadline
    ) -> None:
        super().__init__(host, port)
        self.default_port = 443 if tls else 80  # the Host header omits it
        self._checked = addresses
        self._tls = tls
        self._deadline = deadline
        self.raw: _DeadlineSocket | None = None

    def connect(self) -> None:
        failure: OSError | None = None
        for address in self._checked:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self._deadline.left())
                sock.connect((address, self.port))
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            break
        else:
            raise failure or OSError("no address")
        if self._tls:
            try:
                sock.settimeout(self._deadline.left())
                sock = _TLS.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = self.raw = _DeadlineSocket(sock, self._deadline)


def fetch(
    url: str,
    *,
    form: dict[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    bearer: str | None = None,
) -> Answer:
    """GET `url` (POST when `form` is given) under the rules above; the answer, whatever
    its status, or FetchError."""
    options = app_settings.SSO
    deadline = _Deadline(options.fetch_seconds)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise FetchError(Reason.BAD_URL) from None
    if parts.scheme not in {"https", "http"}:
        raise FetchError(Reason.NOT_HTTPS)
    if not host or parts.username is not None or parts.password is not None:
        raise FetchError(Reason.BAD_URL)
    loopback_ok = options.allow_http_loopback
    if parts.scheme == "http" and not loopback_ok:
        raise FetchError(Reason.NOT_HTTPS)
    addresses = _addresses(host, deadline)
    if parts.scheme == "http" and not all(
        ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses
    ):
        raise FetchError(Reason.NOT_HTTPS)
    if not addresses or not all(address_allowed(a, loopback_ok=loopback_ok) for a in addresses):
        raise FetchError(Reason.ADDRESS_NOT_ALLOWED)
    tls = parts.scheme == "https"
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "Connection": "close"}
    body = None
    if form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if basic_auth is not None:
        # RFC 6749 2.3.1: each part form-encoded, then the pair in Base64.
        pair = ":".join(quote(part, safe="") for part in basic_auth)
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    connection = _Connection(
        host, port or (443 if tls else 80), addresses=addresses, tls=tls, deadline=deadline
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST" if form is not None else "GET", path, body, headers)
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise FetchError(Reason.REDIRECTED)
        content = response.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise FetchError(Reason.TOO_LARGE)
        return Answer(response.status, response.getheader("Content-Type") or "", content)
    except ssl.SSLError:
        raise FetchError(Reason.TLS) from None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or time.monotonic() >= deadline.ends:
            raise FetchError(Reason.TIMED_OUT) from None
        raise FetchError(Reason.UNREACHABLE) from None
    finally:
        connection.close()
        if connection.raw is not None:
            connection.raw.shut()
