"""The load: agents signing in as a browser does, N at a time, with a deadline.

A full sign-in is five requests, as a browser makes them:
  GET /signin/ (CSRF cookie and token), POST /signin/ (user name, password: argon2 verify,
  pending sign-in, the code issued and handed to SMTP or Kannel) -> 302 /signin/code/,
  GET /signin/code/ (the code page), then the code read from the SMTP server or Kannel's
  fake SMSC, POST /signin/code/ (action=verify) -> 302 / with the session cookie,
  GET / -> 302 /account/ (the session works: an agent lands on their account page).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bench.agents import Agent
from bench.browser import Browser
from bench.sinks import Mailboxes

T = TypeVar("T")
NOT_SENT = b"We could not send the code right now"


class Refused(Exception):
    """A step did not answer as it should: the message is the error's reason."""


@dataclass
class Outcome:
    ok: bool
    ms: float  # wall time of the unit measured (a sign-in or one step)
    reason: str = ""
    channel: str = ""
    parts: dict[str, float] = field(default_factory=dict)  # per-part wall times, ms


def _path(location: str) -> str:
    return urlsplit(location).path


def _expect(response: Any, status: int, what: str, to: str | None = None) -> None:
    if response.status != status or (to is not None and _path(response.location) != to):
        where = f" -> {_path(response.location)}" if response.location else ""
        raise Refused(f"{what}: HTTP {response.status}{where}")


def password_step(browser: Browser, base: str, agent: Agent) -> None:
    page = browser.get(base, "/signin/")
    _expect(page, 200, "GET /signin/")
    answer = browser.post(
        base,
        "/signin/",
        {
            "csrfmiddlewaretoken": page.csrf(),
            "username": agent.username,
            "password": agent.password,
        },
    )
    _expect(answer, 302, "POST /signin/", "/signin/code/")


def code_page(browser: Browser, base: str) -> str:
    """GET the code page; answer its CSRF token. Refused if the page says no code was sent."""
    page = browser.get(base, "/signin/code/")
    _expect(page, 200, "GET /signin/code/")
    if NOT_SENT in page.body:
        raise Refused("code not sent (the code page says so)")
    return page.csrf()


def code_step(browser: Browser, base: str, token: str, code: str) -> None:
    answer = browser.post(
        base, "/signin/code/", {"csrfmiddlewaretoken": token, "action": "verify", "code": code}
    )
    _expect(answer, 302, "POST /signin/code/", "/")
    if "deskgate_session" not in browser.cookies:
        raise Refused("no session cookie after the code step")
    home = browser.get(base, "/")
    _expect(home, 302, "GET / after sign-in", "/account/")


def full_sign_in(
    agent: Agent, pw_base: str, code_base: str, boxes: Mailboxes, code_timeout: float
) -> Outcome:
    """The whole sign-in; the password step on one node and the code step on another if given."""
    browser = Browser()
    boxes.drain(agent.destination)
    t0 = time.perf_counter()
    parts: dict[str, float] = {}
    try:
        password_step(browser, pw_base, agent)
        t1 = time.perf_counter()
        parts["password_ms"] = (t1 - t0) * 1000
        token = code_page(browser, code_base)
        code = boxes.code_for(agent.destination, code_timeout)
        t2 = time.perf_counter()
        parts["delivery_ms"] = (t2 - t1) * 1000  # includes the code page, as for a person
        if code is None:
            raise Refused(f"no code by {agent.channel} within {code_timeout:.0f} s")
        code_step(browser, code_base, token, code)
        parts["code_ms"] = (time.perf_counter() - t2) * 1000
    except Refused as exc:
        return Outcome(False, (time.perf_counter() - t0) * 1000, str(exc), agent.channel, parts)
    except (OSError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:120]
        return Outcome(False, (time.perf_counter() - t0) * 1000, reason, agent.channel, parts)
    finally:
        browser.close()
    return Outcome(True, (time.perf_counter() - t0) * 1000, "", agent.channel, parts)


@dataclass
class Run:
    outcomes: list[Outcome]
    wall_s: float
    not_run: int  # items left when the deadline came


def run(items: Sequence[T], work: Callable[[T], Outcome], concurrency: int, deadline: float) -> Run:
    """`work` on every item, `concurrency` at a time, starting none after `deadline`."""
    todo: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    skipped = 0

    def worker() -> None:
        nonlocal skipped
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() > deadline:
                with lock:
                    skipped += 1
                continue
            outcome = work(item)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Run(outcomes, time.perf_counter() - t0, skipped)
