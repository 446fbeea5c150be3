"""Two server processes sharing the database and Redis behave as one (issue 6).

Two real gunicorn servers on their own ports, pointed at this test's database (SQLite file
or PostgreSQL test database, whichever the run uses) and at Redis: the password step on
node A and the code step on node B sign the user in, the session works on both, and the
hourly per-user send cap counts sends on both nodes together. Codes come from the
development outbox table (no EMAIL_URL), read here through the ORM.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection

from deskgate.accounts.models import User
from deskgate.signin.caps import SCOPE_MESSAGES
from tests.conftest import PASSWORD, need
from tests.harness.gunicorn import database_url
from tests.harness.net import LOOPBACK, free_ports, port_open
from tests.mailbox import codes_to

pytestmark = pytest.mark.django_db(transaction=True)  # the servers must see committed rows

GUNICORN = Path(sys.executable).parent / "gunicorn"
ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("DESKGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The hash cost the servers run with; the test process hashes at the same cost, so a
# sign-in does not also rehash (the autouse fixture's 8 KiB is below what conf.py accepts).
HASH = {"memory_cost": 8192, "time_cost": 1, "parallelism": 1}


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Node:
    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        self.name, self.port, self.log = name, port, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: S603  # the venv's gunicorn, fixed arguments
                [str(GUNICORN), "deskgate.wsgi", "--bind", f"{LOOPBACK}:{port}", "--workers", "1"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, deadline: float) -> None:
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"gunicorn {self.name} did not start\n{self.tail()}")
            time.sleep(0.05)

    def tail(self) -> str:
        return f"--- gunicorn {self.name}:\n" + self.log.read_text("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nodes(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    need(_redis_reachable(), f"Redis at {REDIS_URL} (DESKGATE_TEST_REDIS_URL)")
    settings.DESKGATE_PASSWORD_HASH = HASH
    env = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "SMS_URL"}}
    port_a, port_b = free_ports(2)
    env.update(
        {
            "DATABASE_URL": database_url(),
            "CACHE_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_urlsafe(48),  # the same on both, as in production
            "DESKGATE_HOSTS": LOOPBACK,
            "DESKGATE_SECURE_COOKIES": "0",
            "DESKGATE_BASE_URL": f"http://{LOOPBACK}:{port_a}",
            "DESKGATE_DEMO": "0",
            "DESKGATE_DEBUG": "0",
            "DESKGATE_CODE_CAP_USER": "2",
            "DESKGATE_HASH_MEMORY_KIB": str(HASH["memory_cost"]),
            "DESKGATE_HASH_TIME_COST": str(HASH["time_cost"]),
            "DESKGATE_HASH_PARALLELISM": str(HASH["parallelism"]),
        }
    )
    # Closed here: on PostgreSQL the test database is dropped at the end, and on SQLite
    # the servers write to the file; neither wants this process holding a transaction.
    connection.close()
    a = Node("A", port_a, env, tmp_path / "node-a.log")
    b = Node("B", port_b, env, tmp_path / "node-b.log")
    try:
        deadline = time.monotonic() + 30
        a.wait_ready(deadline)
        b.wait_ready(deadline)
        yield a, b
    finally:
        a.stop()
        b.stop()


def _browser() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "deskgate-two-node-test"
    return session


def _csrf(response: requests.Response) -> str:
    match = CSRF.search(response.text)
    assert match, f"no CSRF token on {response.url} (HTTP {response.status_code})"
    return match.group(1)


def _post(browser: requests.Session, node: Node, path: str, data: dict[str, str]) -> Any:
    # The Origin a browser sends; cookies are per host, not per port, as in a browser.
    return browser.post(
        node.url + path, data=data, headers={"Origin": node.url}, allow_redirects=False, timeout=20
    )


def _password_step(browser: requests.Session, node: Node, user: User) -> Any:
    page = browser.get(node.url + "/signin/", timeout=20)
    assert page.status_code == 200
    data = {"csrfmiddlewaretoken": _csrf(page), "username": user.username, "password": PASSWORD}
    answer = _post(browser, node, "/signin/", data)
    assert answer.status_code == 302, node.tail()
    assert answer.headers["Location"] == "/signin/code/"
    return answer


def _codes_to(user: User) -> list[str]:
    return codes_to(user.email)


def test_password_on_one_node_code_on_the_other_and_caps_across_both(
    nodes: tuple[Node, Node], user_factory: Callable[..., User]
) -> None:
    a, b = nodes
    anna = user_factory("agent", "email", username="anna.two.nodes")
    connection.close()  # committed; the servers see it

    # Password step on A: the pending sign-in is in the database, the session too.
    browser = _browser()
    _password_step(browser, a, anna)
    (code,) = _codes_to(anna)
    connection.close()

    # Code step on B, with A's session cookie.
    page = browser.get(b.url + "/signin/code/", timeout=20)
    assert page.status_code == 200, b.tail()
    assert "Enter your code" in page.text
    answer = _post(
        browser,
        b,
        "/signin/code/",
        {"csrfmiddlewaretoken": _csrf(page), "action": "verify", "code": code},
    )
    assert answer.status_code == 302, b.tail()
    assert answer.headers["Location"] == "/"
    assert "deskgate_session" in browser.cookies

    # Signed in on both nodes.
    for node in (b, a):
        home = browser.get(node.url + "/account/", allow_redirects=False, timeout=20)
        assert home.status_code == 200, (node.name, home.status_code, home.headers.get("Location"))
        assert anna.full_name in home.text

    # The per-user cap (2 an hour here) counts sends on A and on B together.
    bert = user_factory("agent", "email", username="bert.two.nodes")
    connection.close()
    for node in (a, b):
        _password_step(_browser(), node, bert)
    assert len(_codes_to(bert)) == 2
    connection.close()
    for node in (a, b):  # the third send refused on either node
        refused = _browser()
        _password_step(refused, node, bert)
        page = refused.get(node.url + "/signin/code/", timeout=20)
        assert page.status_code == 200, node.tail()
        assert str(SCOPE_MESSAGES["user"]) in page.text, node.name
    assert len(_codes_to(bert)) == 2
    connection.close()
