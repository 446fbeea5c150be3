"""Queries per sign-in step: a bound, so the storm's cost cannot creep up unnoticed.

Run with sessions in the database alone (no CACHE_URL) and with Redis in front of them
(`cached_db`, as with CACHE_URL): the cache saves the session read, and a session save
stays one database write either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from tests.authenticator import app_code, enrol
from tests.conftest import PASSWORD, need
from tests.harness.redis import INSTALL_HINT, RedisServer, redis_missing
from tests.mailbox import last_code

# Statements per step as the test database counts them, savepoints included (issue 17).
# Before issue 17: 24, 3 and 22 with sessions in the database alone. Session 7 made them
# 22, 3 and 18 (22, 2 and 17 with Redis in front of them): a session write is one
# statement, a pending sign-in's DELETE too, the code page reads the attempt once; the code
# step's closing writes (the claim, the old session, last_login, the session's record, the
# audit event) are one transaction, so its SAVEPOINT and RELEASE here (BEGIN and COMMIT in
# production) buy one commit instead of six.
# Then (issue 17, session 8) 13, 2 and 13 (13, 1 and 12 with Redis). The password step's 13:
# the attempt budget's address and network in one UPSERT; one transaction (SAVEPOINT,
# RELEASE) reads the user with their client, its SSO settings, their guard row locked and
# their strong factors in one statement, and gives back the right password's attempt; the
# new attempt's INSERT (its user's expired attempts are deleted only when the read saw one);
# the code's transaction reads the attempt and the guard row locked in one statement, counts
# the three send caps in one UPSERT and saves the code; the code's audit event; the session.
# One more when the step opens a new window of the attempt budget (pruning the spent
# windows' rows): the clock stands still here, so the count does not depend on when the
# test runs. The code page reads the attempt, its user and client and the user's strong
# factors in one statement. The code step reads the attempt and the guard row in one locked
# statement, and the check and the closing writes are one transaction (one SAVEPOINT and
# RELEASE here, one commit), with no second read of the attempt: the attempt (with the
# strong factors), the locked attempt and guard, the code spent, the claim, the old
# session's row, last_login, the session's record, the Email proven (the first sign-in
# only), the audit event, the new session's row, and the savepoint's two.
# Then 9, 2 and 11 (issue 17, session 9). The password step's one transaction also begins
# the attempt and issues its first code: the send caps' UPSERT, then the attempt's INSERT
# with the code in it (no separate INSERT, no locked read of the new row, no UPDATE of its
# code, one commit fewer); the code goes out after the commit, and its audit event after
# it. The code step writes nothing to the attempt it claims (deletes) in the same
# transaction, and the Email proven goes into last_login's UPDATE of the user.
# Then 9, 2 and 9 (issue 17, session 10). The code step reads its attempt once, with the
# code page's (the user, the client, the strong factors) and the guard row, locked, in the
# check's transaction (`pipeline.checking`): no unlocked read first. The session's key
# rotation moves the old row to the new key in the response's one UPDATE (no DELETE of
# the old row in the transaction, then an INSERT).
# Then, on PostgreSQL, 7, 2 and 5 (7, 1 and 4 with Redis: 12 in all, issue 17's target;
# session 13): writes whose results nobody reads go to the database together, as one
# statement (`rows.waiting`, writable CTEs, which SQLite lacks), and the session is saved
# in the step's transaction (`save_now`), not after it by the response. The password
# step's attempt row, the new session's row and the budget's give-back are one; the code
# step's closing writes (the claim of the attempt it holds locked, last_login, the
# session's record, the audit event, the session's row under its new key) are one.
STEPS = {
    ("postgresql", "db"): (7, 2, 5),
    ("postgresql", "cached_db on redis"): (7, 1, 4),
    ("sqlite", "db"): (9, 2, 9),
    ("sqlite", "cached_db on redis"): (9, 1, 8),
}


@pytest.fixture(params=["db", "cached_db on redis"])
def session_engine(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    if request.param == "db":
        settings.SESSION_ENGINE = "deskgate.accounts.session_store.db"
        yield request.param
        return
    need(not redis_missing(), INSTALL_HINT)
    with RedisServer() as server:
        settings.CACHES = server.caches()
        settings.SESSION_ENGINE = "deskgate.accounts.session_store.cached_db"
        yield request.param


def _session_writes(captured: CaptureQueriesContext) -> int:
    """Statements that write a session's row (alone, or with other writes: `rows.waiting`)."""
    return sum(
        q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))
        and "django_session" in q["sql"]
        for q in captured.captured_queries
    )


def _session_reads(captured: CaptureQueriesContext) -> int:
    return sum(
        q["sql"].lstrip().upper().startswith("SELECT") and '"django_session"' in q["sql"]
        for q in captured.captured_queries
    )


def test_a_two_step_sign_in_stays_within_its_query_budget(
    user_factory, session_engine, clock
) -> None:
    # Measured on a second sign-in: the hour's send counters and the user's guard row
    # exist, as they do for almost every sign-in of a shift.
    warm = user_factory("agent", "email")
    user = user_factory("agent", "email")
    for someone in (warm, user):
        first = HttpClient()
        first.post("/signin/", {"username": someone.username, "password": PASSWORD})
    http = HttpClient()
    http.get("/signin/")
    with CaptureQueriesContext(connection) as password_step:
        response = http.post("/signin/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/signin/code/"
    with CaptureQueriesContext(connection) as code_page:
        http.get("/signin/code/")
    code = last_code(user)  # read before counting: the outbox is the test's, not the product's
    with CaptureQueriesContext(connection) as code_step:
        response = http.post("/signin/code/", {"action": "verify", "code": code})
    assert response["Location"] == "/"
    with CaptureQueriesContext(connection) as home:
        assert http.get("/account/").status_code == 200
    # The password step's include the attempt budget (one UPSERT for the address and the
    # network, and the give-back of a right password).
    password_budget, page_budget, code_budget = STEPS[connection.vendor, session_engine]
    assert len(password_step) <= password_budget, [q["sql"] for q in password_step.captured_queries]
    assert len(code_page) <= page_budget, [q["sql"] for q in code_page.captured_queries]
    assert len(code_step) <= code_budget, [q["sql"] for q in code_step.captured_queries]
    # One database write per session (deskgate/accounts/session_store): the password step
    # inserts the new session, the code step moves it to its new key (the sign-in's key
    # rotation) with what it holds, in one UPDATE.
    steps = (password_step, code_page, code_step, home)
    assert [_session_writes(step) for step in steps] == [1, 0, 1, 0]
    if session_engine != "db":
        # Pages of a session under way read it from Redis, not from the database.
        assert _session_reads(code_page) == _session_reads(home) == 0


def _kinds(statements: CaptureQueriesContext) -> list[str]:
    """What each statement does: a read, a write (an UPDATE of a guard row and the UPSERT of
    an unknown name's bucket are both one), SAVEPOINT or RELEASE."""
    first = [q["sql"].split(None, 1)[0].upper() for q in statements.captured_queries]
    return ["WRITE" if word in {"INSERT", "UPDATE"} else word for word in first]


def test_an_unknown_name_runs_the_statements_a_known_name_with_a_wrong_password_runs(
    user_factory, clock
) -> None:
    """The same database work whatever the name (tests/security/test_05 times it): the read
    of the user, a row locked and written (their guard row, or an unknown name's bucket),
    the refusal's audit event, in one transaction."""
    user = user_factory("agent", "email")
    http = HttpClient()
    http.post("/signin/", {"username": user.username, "password": "wrong"})  # its guard row
    http.post("/signin/", {"username": "nobody-here", "password": "wrong"})  # its bucket's
    with CaptureQueriesContext(connection) as known:
        http.post("/signin/", {"username": user.username, "password": "wrong"})
    with CaptureQueriesContext(connection) as unknown:
        http.post("/signin/", {"username": "nobody-here", "password": "wrong"})
    assert _kinds(known) == _kinds(unknown), (
        [q["sql"] for q in known.captured_queries],
        [q["sql"] for q in unknown.captured_queries],
    )


# The code step with the authenticator app's code (issue 17, session 10), sessions in the
# database: the session's read; one transaction (SAVEPOINT, RELEASE here) reads the
# attempt with the guard row locked (`pipeline.checking`), reads the app, matches and
# spends its code in one conditional UPDATE, and finishes the sign-in (the claim,
# last_login, the session's record, the audit event); the session's row under its new key.
# Before: 15 (the page's read, a transaction reading the attempt and the guard row again
# and saving the pass, a read of the attempt, then the closing writes in a second
# transaction). On PostgreSQL 7 since session 13: the closing writes and the session's row
# are one statement.
APP_CODE_STEP = {"postgresql": 7, "sqlite": 11}


def test_an_app_code_sign_in_stays_within_its_query_budget(user_factory, clock) -> None:
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(seconds=30))  # the set-up spent this step's code
    http = HttpClient()
    http.post("/signin/", {"username": user.username, "password": PASSWORD})
    http.get("/signin/code/")
    with CaptureQueriesContext(connection) as code_step:
        response = http.post(
            "/signin/code/", {"action": "verify_app", "with": "app", "app_code": app_code(secret)}
        )
    assert response["Location"] == "/"
    budget = APP_CODE_STEP[connection.vendor]
    assert len(code_step) <= budget, [q["sql"] for q in code_step.captured_queries]
