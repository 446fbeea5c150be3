"""A minimal browser for the benchmark: cookies, CSRF tokens from forms, an Origin on POST.

Why not Locust, `requests` or `httpx`: on a 2-core machine the load client shares the cores
with the server it measures, so every millisecond of client CPU shows up as lost server
throughput. The standard library's `http.client` with a plain dict as cookie jar costs a
fraction of `requests`' per-request CPU (no cookielib policy machinery, no adapters), needs
no dependency, and threads are enough for 1-32 concurrent sign-ins (they spend their time
blocked on sockets). Each `Browser` is one agent's browser: its own cookies, one request at
a time, and, as a browser does, one connection per server kept open between its requests
(HTTP/1.1 keep-alive; gunicorn's gthread workers keep an idle connection 2 s). With
`keep_alive=False` every request opens and closes its own connection, as a proxy in front
that does not keep its upstream connections would.
"""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

# Whether new browsers keep their connections (bench.storm --no-keep-alive sets it off).
KEEP_ALIVE = True
# What a kept connection the server has closed raises on the next request.
_GONE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    location: str
    body: bytes
    ms: float  # wall time of the request, connect to last byte

    def csrf(self) -> str:
        match = _CSRF.search(self.body)
        if match is None:
            raise ValueError(f"no csrfmiddlewaretoken in the page (HTTP {self.status})")
        return match.group(1).decode()

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """One agent's browser. `base` is the node to talk to, e.g. http://127.0.0.1:8101."""

    timeout: float = 30.0
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    keep_alive: bool = field(default_factory=lambda: KEEP_ALIVE)
    _open: dict[str, http.client.HTTPConnection] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        """Close the kept connections (the browser's tab is done)."""
        for conn in self._open.values():
            conn.close()
        self._open.clear()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, base: str, path: str, headers: dict[str, str] | None = None) -> Response:
        return self._request(base, "GET", path, None, headers)

    def post(
        self, base: str, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> Response:
        return self._request(base, "POST", path, form, headers)

    def _request(
        self,
        base: str,
        method: str,
        path: str,
        form: dict[str, str] | None,
        extra: dict[str, str] | None = None,
    ) -> Response:
        url = urlsplit(base)
        assert url.hostname is not None
        headers = {
            "Host": url.netloc,
            "User-Agent": "deskgate-bench/1",
            "Accept": "text/html",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"{url.scheme}://{url.netloc}"  # as a browser sends on POST
        if extra:
            headers.update(extra)
        t0 = time.perf_counter()
        kept = self._open.pop(url.netloc, None)
        try:
            response = self._send(kept, url.hostname, url.port, method, path, body, headers)
        except _GONE:
            if kept is None:
                raise
            # The server closed the kept connection while it was idle, before reading this
            # request (gunicorn's keep-alive timeout): as a browser does, send it again on a
            # new one.
            response = self._send(None, url.hostname, url.port, method, path, body, headers)
        conn, answer = response
        try:
            data = answer.read()
            status = answer.status
            location = answer.getheader("Location", "")
            set_cookies = answer.msg.get_all("Set-Cookie") or []
        except BaseException:
            conn.close()
            raise
        if self.keep_alive and not answer.will_close:
            self._open[url.netloc] = conn
        else:
            conn.close()
        ms = (time.perf_counter() - t0) * 1000
        self.requests += 1
        for header in set_cookies:
            self._store(header)
        return Response(status, location, data, ms)

    def _send(
        self,
        conn: http.client.HTTPConnection | None,
        host: str,
        port: int | None,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if not self.keep_alive:
            headers = {**headers, "Connection": "close"}
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn, conn.getresponse()
        except BaseException:
            conn.close()
            raise

    def _store(self, header: str) -> None:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            max_age = morsel["max-age"]
            expired = max_age not in ("", None) and int(max_age) <= 0
            if expired or "1970" in morsel["expires"]:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
