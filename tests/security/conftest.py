"""The attacker's tools: browsers that speak HTTP to the running product, and ways to see
what the product did (codes delivered, sessions opened, audit rows written).

Every test here drives pytest-django's `live_server` (a real threaded HTTP server on
loopback, transactional database) with one `requests.Session` per attacker or victim
browser. A browser fetches the page holding a form and posts the form's CSRF token, as a
real browser does; nothing calls a view or the sign-in pipeline directly.

The product's production settings stay as they are: the session and CSRF cookies are
Secure, so the browsers here treat http://localhost as a secure context (as Chromium
does) instead of switching the flag off.
"""

from __future__ import annotations

import html
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import DefaultCookiePolicy
from importlib import import_module
from typing import Any, TypeVar
from urllib.parse import urljoin

import pytest
import requests
from django.contrib.sessions.models import Session
from django.db import close_old_connections, connection
from django.utils import timezone

from deskgate.accounts.models import User, UserSession
from tests.conftest import PASSWORD
from tests.mailbox import last_code

T = TypeVar("T")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SESSION_COOKIE = "deskgate_session"
TIMEOUT = 60  # seconds for one HTTP request; a queue of parallel requests can be slow


def found(pattern: re.Pattern[str] | str, text: str, group: int = 1) -> str:
    """The pattern's group in the text; fails the test, showing the text, when absent."""
    match = re.search(pattern, text)
    assert match, text
    return match.group(group)


class _SecureContextSession(requests.Session):
    """A requests session that, like Chromium, treats http://localhost as a secure context:
    Secure cookies set by the live server are kept and sent back. (requests copies the
    jar into one with the default policy for every request, which would drop them.)"""

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(self.cookies)
        return prepared


class Browser:
    """One browser (or attacker script): its own cookies, talking to the live server."""

    def __init__(self, base_url: str, seen: list[requests.Response] | None = None) -> None:
        self.base_url = base_url
        self.http = _SecureContextSession()
        # One request per connection (see hang_up).
        self.http.headers["Connection"] = "close"
        # Every response this browser received (redirects included), for leak checks.
        self.seen: list[requests.Response] = [] if seen is None else seen
        self.http.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.seen.append(response)

    # --- raw HTTP ---------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        try:
            return self.http.get(self.base_url + path, timeout=TIMEOUT, **kwargs)
        finally:
            self.hang_up()

    def post_raw(self, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        """A POST exactly as given: no CSRF token added."""
        kwargs.setdefault("allow_redirects", False)
        try:
            return self.http.post(self.base_url + path, data=data, timeout=TIMEOUT, **kwargs)
        finally:
            self.hang_up()

    def visit(self, url: str, data: dict[str, Any] | None = None) -> requests.Response:
        """GET (or POST `data` to) a path or an absolute URL, following redirects one hop
        at a time, across hosts (an SSO provider) as a browser does."""
        target = url if "://" in url else self.base_url + url
        try:
            if data is None:
                response = self.http.get(target, allow_redirects=False, timeout=TIMEOUT)
            else:
                response = self.http.post(target, data=data, allow_redirects=False, timeout=TIMEOUT)
        finally:
            self.hang_up()
        for _ in range(20):
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["Location"])
            try:
                response = self.http.get(target, allow_redirects=False, timeout=TIMEOUT)
            finally:
                self.hang_up()
        raise AssertionError(f"too many redirects from {url}")

    def hang_up(self) -> None:
        """One request per connection: the test server's thread for an HTTP connection
        keeps its database connection (the settings keep them for 60 s) until the HTTP
        connection ends, and a hundred idle keep-alive connections would use up
        PostgreSQL's max_connections. The request says "Connection: close", and the
        client drops its pool so that it never reuses a connection the server closed."""
        self.http.close()

    def csrf_token(self, *pages: str) -> str:
        """The token of the first of these pages that shows a form, as a browser reads it."""
        for page in (*pages, "/signin/", "/account/"):
            match = CSRF_INPUT.search(self.get(page).text)
            if match:
                return html.unescape(match.group(1))
        raise AssertionError(f"no form with a CSRF token on {pages}")

    def post(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        form: str | None = None,
        csrf: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Load the page with the form (`form`, by default `path`), then submit it
        (or submit with a token read from that page before, `csrf`)."""
        token = csrf or self.csrf_token(form or path)
        fields: list[tuple[str, Any]] = [("csrfmiddlewaretoken", token)]
        if isinstance(data, dict):
            fields += list(data.items())
        elif data:
            fields += list(data)
        return self.post_raw(path, fields, **kwargs)

    # --- sign-in ----------------------------------------------------------------------

    def sign_in(self, username: str, password: str = PASSWORD, **extra: Any) -> requests.Response:
        return self.post("/signin/", {"username": username, "password": password, **extra})

    def submit_code(self, code: str, csrf: str | None = None, **extra: Any) -> requests.Response:
        data = {"action": "verify", "code": code, **extra}
        return self.post("/signin/code/", data, csrf=csrf)

    def resend(self) -> requests.Response:
        return self.post("/signin/code/", {"action": "resend"})

    def code_page(self) -> requests.Response:
        return self.get("/signin/code/")

    def sign_out(self) -> requests.Response:
        return self.post("/signin/sign-out/", {}, form="/account/")

    # --- what the browser holds -------------------------------------------------------

    @property
    def session_key(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)

    def clone(self) -> Browser:
        """Another script or tab with this browser's cookies (for parallel requests)."""
        other = Browser(self.base_url, self.seen)
        for cookie in self.http.cookies:
            other.http.cookies.set_cookie(cookie)
        return other

    def with_session(self, key: str | None) -> Browser:
        """A fresh browser that replays a stolen or old session cookie."""
        assert key is not None, "no session cookie to replay"
        other = Browser(self.base_url, self.seen)
        other.http.cookies.set(SESSION_COOKIE, key, domain=self.cookie_domain, path="/")
        return other

    @property
    def cookie_domain(self) -> str:
        for cookie in self.http.cookies:
            return cookie.domain
        return "localhost.local"

    def whoami(self) -> str | None:
        """The full name the account page shows, or None when the browser is not signed in."""
        response = self.get("/account/")
        if response.status_code != 200:
            return None
        match = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
        return html.unescape(match.group(1)).strip() if match else None


class BrowserFactory:
    """browser() makes a fresh browser; .seen holds every response any of them got."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.seen: list[requests.Response] = []

    def __call__(self) -> Browser:
        return Browser(self.base_url, self.seen)


@pytest.fixture
def browser(live_server: Any) -> BrowserFactory:
    """A factory of fresh browsers on the live server."""
    # Django's test server listens with a backlog of 10 connections; a hundred parallel
    # requests would be turned away by the kernel before reaching it. A real server
    # (gunicorn) has a backlog of 2048: give the test server as much.
    httpd = live_server.thread.httpd
    httpd.socket.listen(2048)
    if not getattr(httpd, "deskgate_nodelay", False):
        # Django's test server writes a response's headers and body in separate sends;
        # with Nagle's algorithm on, each response then waits ~40 ms for the client's
        # delayed ACK. Real servers (gunicorn) set TCP_NODELAY; so does this one.
        accept = httpd.get_request

        def get_request() -> tuple[socket.socket, Any]:
            conn, address = accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn, address

        httpd.get_request = get_request
        httpd.deskgate_nodelay = True
    return BrowserFactory(live_server.url)


# --- what the product did ---------------------------------------------------------------


def signed_in_users() -> list[int]:
    """The users of every authenticated session (one entry per session).

    With sessions in the database (always: with CACHE_URL they are `cached_db`) every row
    is read, so a session the product did not record anywhere is found too. With the
    cache engine (Redis) sessions cannot be listed: the UserSession records are read.
    """
    from django.conf import settings

    found = []
    if settings.SESSION_ENGINE.rsplit(".", 1)[1] in ("db", "cached_db"):  # rows in the database
        for session in Session.objects.filter(expire_date__gt=timezone.now()):
            user_id = session.get_decoded().get("_auth_user_id")
            if user_id is not None:
                found.append(int(user_id))
        return found
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in UserSession.objects.values_list("session_key", flat=True):
        user_id = store(session_key=key).load().get("_auth_user_id")
        if user_id is not None:
            found.append(int(user_id))
    return found


def sessions_of(user: User) -> int:
    return signed_in_users().count(user.pk)


def user_sessions_of(user: User) -> int:
    return UserSession.objects.filter(user=user).count()


def full_sign_in(browser: Browser, user: User, password: str = PASSWORD) -> Browser:
    """Password, then the code when one is owed; fails the test if no session results."""
    response = browser.sign_in(user.username, password)
    assert response.status_code == 302, response.text[:2000]
    if response.headers["Location"] == "/signin/code/":
        response = browser.submit_code(last_code(user))
        assert response.status_code == 302, response.text[:2000]
    assert response.headers["Location"] == "/", response.headers["Location"]
    assert browser.whoami() == user.full_name
    return browser


def comparable(response: requests.Response, *echoed: str) -> str:
    """The body with the per-response CSRF token and the attacker's own input blanked."""
    body = CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', response.text)
    for value in echoed:
        if value.isdigit():
            # A whole number only: an id of 8 is not the 8 of "utf-8" or of an asset's hash.
            body = re.sub(rf"(?<![\w.-]){value}(?![\w])", "<echoed>", body)
        else:
            body = body.replace(html.escape(value), "<echoed>")
    return body


def visible_text(response: requests.Response) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# --- parallel requests ----------------------------------------------------------------


def connection_budget() -> int:
    """How many requests may hold a database connection at once.

    SQLite has no limit. PostgreSQL refuses clients beyond max_connections, and every
    request the live server handles holds one connection, so on PostgreSQL the attack
    fires as many requests at once as the server has free connections for (the rest
    follow the moment a slot frees).
    """
    if connection.vendor != "postgresql":
        return 10_000
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int")
        limit = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('superuser_reserved_connections')::int")
        reserved = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stat_activity")
        in_use = cursor.fetchone()[0]
    return max(1, limit - reserved - in_use - 10)


def parallel(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) with as many at once as the database allows, all starting together.

    Each worker thread waits at a barrier, so the first wave hits the server together.
    """
    workers = max(1, min(n, connection_budget()))
    assert workers >= min(n, 20), f"only {workers} database connections free for the attack"
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * n
    lock = threading.Lock()
    queue = iter(range(n))

    def worker() -> None:
        try:
            barrier.wait(timeout=60)
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                results[i] = work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    close_old_connections()
    return results


# --- every URL the product serves -----------------------------------------------------


def routes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(route, name, parameter names) of every URL pattern, from the project's resolver."""
    from django.urls import URLResolver, get_resolver

    found: list[tuple[str, str, tuple[str, ...]]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                params = tuple(pattern.pattern.converters)
                found.append((prefix + str(pattern.pattern), namespace + pattern.name, params))

    walk(get_resolver().url_patterns, "", "")
    return found


def concrete(route: str, values: dict[str, Any]) -> str:
    """A route with its <converter:name> parts filled in from `values`."""

    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        if f"{converter}:{name}" in values:  # e.g. "uuid:user_id": the REST API's user ids
            return str(values[f"{converter}:{name}"])
        assert name in values, f"the attack does not know what to put in <{name}> of {route}"
        return str(values[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
