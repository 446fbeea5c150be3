"""deskgate.postgres: a kept connection is checked before a request's first statement only
after it has been idle (Django checks it before every request's), and one PostgreSQL has
dropped is replaced, on the real database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection

from deskgate.postgres import base

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend: runs in the PostgreSQL suite (make test-postgres)")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """The backend's clock, moved on by hand."""
    now = [1_000.0]
    monkeypatch.setattr(base, "monotonic", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Each health check Django ran on the connection (its answer)."""
    seen: list[bool] = []
    django_check = connection.is_usable

    def counted() -> bool:
        seen.append(django_check())
        return seen[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    yield seen


def a_request() -> int:
    """One request as Django serves it (its signals close or keep the connection); its
    statement answers the server process it ran on."""
    request_started.send(sender=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        return int(pid)
    finally:
        request_finished.send(sender=None)


def drop(pid: int) -> None:
    """PostgreSQL ends that server process, as a restart or an idle timeout would."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"], dbname=s["NAME"]
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_connection_that_answered_a_moment_ago_is_not_checked_an_idle_one_is(
    clock: Callable[[float], None], checks: list[bool]
) -> None:
    pid = a_request()
    clock(1)
    assert a_request() == pid
    assert checks == []  # Django would have run SELECT 1 before that request's statement
    clock(base.CHECK_AFTER_IDLE + 1)
    assert a_request() == pid
    assert checks == [True]  # idle: checked, and kept


def test_a_connection_dropped_while_idle_is_replaced_before_the_request_uses_it(
    clock: Callable[[float], None], checks: list[bool]
) -> None:
    pid = a_request()
    drop(pid)
    clock(base.CHECK_AFTER_IDLE + 1)
    assert a_request() != pid  # the check found it gone: a new connection, no error
    assert checks == [False]


def test_a_connection_dropped_right_after_it_answered_fails_one_request_then_is_replaced(
    clock: Callable[[float], None], checks: list[bool]
) -> None:
    """What leaving the check out costs: the request that finds the connection dropped
    fails (Deskgate answers 503); Django closes the connection, and the next one works."""
    pid = a_request()
    drop(pid)
    clock(1)
    with pytest.raises(OperationalError):
        a_request()
    assert checks == [False]  # the request's end checked it, after its error, and closed it
    assert a_request() != pid
