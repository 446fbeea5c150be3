"""Redis or PostgreSQL going away (issue 9 item 8), against the real server.

gunicorn with CACHE_URL pointing at a Redis this test starts on a free port: sign in with
Redis up, stop Redis, the signed-in session still works and a new sign-in works (no 500),
start Redis again (empty, as after a restart), every session is still valid. Sessions
live in the database with Redis in front (`cached_db`); the cache is a convenience.
A database that does not answer gets a styled 503 page, never a 500.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.db import connection

from deskgate.accounts.models import User
from tests.conftest import PASSWORD
from tests.harness.gunicorn import HASH, Gunicorn, server_env
from tests.harness.net import LOOPBACK, free_port
from tests.harness.redis import RedisServer
from tests.mailbox import last_code

pytestmark = pytest.mark.django_db(transaction=True)  # the server must see committed rows

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
UNAVAILABLE = "Deskgate is briefly unavailable"


@pytest.fixture
def server(
    transactional_db: None, settings: Any, tmp_path: Path, redis_server: RedisServer
) -> Iterator[Gunicorn]:
    settings.DESKGATE_PASSWORD_HASH = HASH
    port = free_port()
    env = server_env(port, CACHE_URL=redis_server.url)
    connection.close()
    with Gunicorn(env, tmp_path / "server.log") as node:
        yield node


def _csrf(response: requests.Response) -> str:
    match = CSRF.search(response.text)
    assert match, f"no CSRF token on {response.url} (HTTP {response.status_code})"
    return match.group(1)


def _post(browser: requests.Session, server: Gunicorn, path: str, data: dict[str, str]) -> Any:
    return browser.post(
        server.url + path,
        data=data,
        headers={"Origin": server.url},
        allow_redirects=False,
        timeout=20,
    )


def _last_code(user: User) -> str:
    code = last_code(user)
    connection.close()
    return code


def _sign_in(server: Gunicorn, user: User) -> requests.Session:
    browser = requests.Session()
    page = browser.get(server.url + "/signin/", timeout=20)
    assert page.status_code == 200, server.tail()
    data = {"csrfmiddlewaretoken": _csrf(page), "username": user.username, "password": PASSWORD}
    answer = _post(browser, server, "/signin/", data)
    assert answer.status_code == 302, (answer.status_code, answer.text[:300], server.tail())
    assert answer.headers["Location"] == "/signin/code/"
    page = browser.get(server.url + "/signin/code/", timeout=20)
    assert page.status_code == 200, server.tail()
    data = {"csrfmiddlewaretoken": _csrf(page), "action": "verify", "code": _last_code(user)}
    answer = _post(browser, server, "/signin/code/", data)
    assert answer.status_code == 302, (answer.status_code, answer.text[:300], server.tail())
    assert answer.headers["Location"] == "/"
    return browser


def _signed_in(browser: requests.Session, server: Gunicorn, user: User) -> bool:
    page = browser.get(server.url + "/account/", allow_redirects=False, timeout=20)
    assert page.status_code in (200, 302), (page.status_code, page.text[:300], server.tail())
    return page.status_code == 200 and user.full_name in page.text


def test_sessions_survive_a_redis_outage_and_a_restart(
    server: Gunicorn, redis_server: RedisServer, user_factory: Callable[..., User]
) -> None:
    anna = user_factory("agent", "email", username="anna.redis")
    bert = user_factory("agent", "email", username="bert.redis")
    carl = user_factory("agent", "email", username="carl.redis")
    connection.close()

    anna_browser = _sign_in(server, anna)
    assert _signed_in(anna_browser, server, anna)
    carl_browser = _sign_in(server, carl)
    # The server really uses this Redis: the sessions are cached there.
    assert redis.Redis.from_url(redis_server.url).keys("*session*")

    redis_server.stop()
    # The signed-in session still works, and a new two-step sign-in works: no 500.
    assert _signed_in(anna_browser, server, anna)
    bert_browser = _sign_in(server, bert)
    assert _signed_in(bert_browser, server, bert)
    # Signing out while Redis is away ends the session.
    page = carl_browser.get(server.url + "/account/", timeout=20)
    answer = _post(carl_browser, server, "/signin/sign-out/", {"csrfmiddlewaretoken": _csrf(page)})
    assert answer.status_code == 302
    assert not _signed_in(carl_browser, server, carl)

    redis_server.start()  # same port, empty: as after a restart
    assert _signed_in(anna_browser, server, anna)
    assert _signed_in(bert_browser, server, bert)
    assert not _signed_in(carl_browser, server, carl)
    # ...and the cache is used again, once the server tries it (within seconds).
    deadline = time.monotonic() + 10
    while not redis.Redis.from_url(redis_server.url).keys("*session*"):
        assert time.monotonic() < deadline, "the server never used Redis again"
        assert _signed_in(anna_browser, server, anna)
        time.sleep(0.2)
    log = server.log.read_text("utf-8", "replace")
    assert "Internal Server Error" not in log, server.tail()
    # One warning for the outage, however many requests it spanned, and one for the end.
    assert log.count("The cache (Redis) does not answer") == 1, server.tail()
    assert log.count("The cache (Redis) answers again") == 1, server.tail()


def test_a_database_that_does_not_answer_gets_a_503_page_not_a_500(
    transactional_db: None, tmp_path: Path
) -> None:
    port = free_port()
    # Nothing listens on the database's port: every query fails to connect.
    env = server_env(port, DATABASE_URL=f"postgres://deskgate@{LOOPBACK}:{free_port()}/gone")
    with Gunicorn(env, tmp_path / "server.log") as node:
        browser = requests.Session()
        browser.cookies.set("deskgate_session", "k" * 32)  # the session is looked up: a query
        page = browser.get(node.url + "/account/", allow_redirects=False, timeout=20)
        assert page.status_code == 503, (page.status_code, page.text[:500], node.tail())
        assert UNAVAILABLE in page.text
        assert "try again in a minute" in page.text
        assert page.headers["Retry-After"] == "60"
        assert "Traceback" not in page.text
