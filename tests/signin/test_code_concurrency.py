"""R7 under parallel requests: limits hold and a code is used once (real DB connections)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import pytest
from django.core import mail
from django.db import close_old_connections, connection, transaction

from deskgate.accounts.audit import Actor
from deskgate.signin import challenge, pipeline
from deskgate.signin.challenge import Check, Issue
from deskgate.signin.models import PendingSignIn, SendCounter, SignInGuard, SignInVia
from tests.mailbox import codes_in, codes_sent_to, last_code

pytestmark = pytest.mark.django_db(transaction=True)
BY = Actor(ip="127.0.0.1")
T = TypeVar("T")


def in_parallel(n: int, work: Callable[[int], T]) -> list[T]:
    """Run `work` n times at once, each in its own thread with its own connection."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(run, range(n)))
    close_old_connections()
    return results


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_fifty_parallel_wrong_codes_record_at_most_five(user_factory, settings) -> None:
    settings.DESKGATE_CODE = settings.DESKGATE_CODE | {"lock_after": 1000}
    user = user_factory("agent", "email")
    pending = pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    answers = in_parallel(50, lambda i: challenge.verify(pending.pk, wrong(code), by=BY).reason)
    counts = Counter(answers)
    assert counts[Check.WRONG] == 5 and counts[Check.TOO_MANY] == 45
    assert PendingSignIn.objects.get(pk=pending.pk).code_attempts == 5
    assert SignInGuard.objects.get(user=user).code_failures == 5
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.TOO_MANY


def test_parallel_wrong_codes_across_attempts_lock_once(user_factory) -> None:
    user = user_factory("agent", "email")
    pendings = [pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None) for _ in range(4)]
    for p in pendings:
        challenge.issue(p.pk, by=BY)
    sent = set(codes_in(" ".join(str(m.body) for m in mail.outbox)))
    bad = next(c for c in ("999999", "999998", "999997", "999996", "999995") if c not in sent)
    answers = in_parallel(40, lambda i: challenge.verify(pendings[i % 4].pk, bad, by=BY).reason)
    counts = Counter(answers)
    # Ten consecutive failures lock the user; everything after answers "locked".
    assert counts[Check.WRONG] == 9 and counts[Check.LOCKED] >= 1
    guard = SignInGuard.objects.get(user=user)
    assert guard.lock_count == 1 and guard.locked_until is not None


def test_twenty_parallel_right_codes_pass_exactly_once(user_factory) -> None:
    user = user_factory("agent", "sms")
    pending = pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    answers = in_parallel(20, lambda i: challenge.verify(pending.pk, code, by=BY).reason)
    assert Counter(answers)[Check.OK] == 1
    assert Counter(answers)[Check.NO_CODE] == 19


def test_resend_racing_verify_leaves_one_valid_code(user_factory, settings) -> None:
    settings.DESKGATE_CODE = settings.DESKGATE_CODE | {"resend_cooldown": 0}
    for _round in range(5):
        user = user_factory("agent", "email")
        pending = pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)
        challenge.issue(pending.pk, by=BY)
        old = last_code(user)

        def work(i: int, pk: int = pending.pk, old: str = old) -> str:
            if i % 2:
                return challenge.issue(pk, by=BY).reason
            return challenge.verify(pk, old, by=BY).reason

        answers = in_parallel(6, work)
        row = PendingSignIn.objects.get(pk=pending.pk)
        assert Counter(answers)[Check.OK] <= 1
        if row.code_passed:
            assert row.code_hash == ""  # used, and no resend revived it
        else:
            # One live code: the newest sent works, the first one no longer does.
            newest = last_code(user)
            if newest != old:
                refused = challenge.verify(pending.pk, old, by=BY).reason
                assert refused in (Check.REPLACED, Check.WRONG)
            assert challenge.verify(pending.pk, newest, by=BY).reason == Check.OK


@pytest.mark.parametrize("scope", ["user", "client"])
def test_caps_hold_under_parallel_sends(user_factory, settings, scope: str) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 100, "client": 100, "platform": 100} | {scope: 5}
    users = [user_factory("agent", "email") for _ in range(3)]
    pendings = [
        pipeline.create_pending(users[i % 3], via=SignInVia.PASSWORD, ip=None) for i in range(24)
    ]
    if scope == "user":
        pendings = [
            pipeline.create_pending(users[0], via=SignInVia.PASSWORD, ip=None) for _ in range(24)
        ]
    answers = in_parallel(24, lambda i: challenge.issue(pendings[i].pk, by=BY).reason)
    assert Counter(answers)[Issue.SENT] == 5
    assert Counter(answers)[Issue.CAPPED] == 19
    assert sum(codes_sent_to(u) for u in users) == 5
    assert max(SendCounter.objects.values_list("count", flat=True)) == 5


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no row locks: one transaction at a time"
)
def test_a_new_attempt_does_not_wait_for_an_expired_one_a_check_holds(user_factory, clock) -> None:
    """A code typed in an old tab locks its (expired) attempt, then the guard row; the
    password step in another tab holds the guard row and deletes the user's expired
    attempts. Waiting there for the held one closed the circle: PostgreSQL ended one of them
    as a deadlock (a 500). The password step skips an attempt another request holds."""
    user = user_factory("agent", "email")
    SignInGuard.objects.get_or_create(user=user)
    old = pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)
    clock(timedelta(hours=1))  # long expired
    table = PendingSignIn._meta.db_table
    held, release = threading.Event(), threading.Event()

    def check_in_old_tab() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [old.pk])  # noqa: S608
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    tab = threading.Thread(target=check_in_old_tab)
    tab.start()
    try:
        assert held.wait(timeout=10)

        def password_step_in_new_tab() -> PendingSignIn:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '3s'")
                    SignInGuard.objects.select_for_update().get(user=user)
                    return pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            new = pool.submit(password_step_in_new_tab).result(timeout=30)
        assert PendingSignIn.objects.filter(pk=new.pk).exists()
        assert PendingSignIn.objects.filter(pk=old.pk).exists()  # skipped, held by the check
    finally:
        release.set()
        tab.join(timeout=30)
        close_old_connections()
    pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None)  # the next one clears it
    assert not PendingSignIn.objects.filter(pk=old.pk).exists()
