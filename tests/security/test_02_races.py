"""2. Races through HTTP: parallel requests cannot exceed a limit or use a code twice.

Keycloak CVE-2024-4629 and ZITADEL GHSA-7h8m-vrxx-vr4m (parallel guesses beat the
lockout), Umami CVE-2026-134829 (check before record), MISP CVE-2026-107276 (one email
OTP, two sessions). Each attack fires its requests from threads released together at a
barrier, every thread with the same browser cookies, against the live server.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from deskgate.accounts.models import AuditEvent, UserSession
from deskgate.signin.models import PendingSignIn, SignInGuard
from tests.authenticator import app_code, enrol
from tests.conftest import PASSWORD
from tests.mailbox import last_code, other_code
from tests.security.conftest import (
    comparable,
    parallel,
    sessions_of,
    user_sessions_of,
    visible_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

NOT_RIGHT = "That code is not right."
LAST_TRY = "That was the last try for this code."
LOCKED = "Too many wrong codes."


def outcome(response) -> str:
    if response.status_code == 302:
        return f"302 {response.headers['Location']}"
    text = visible_text(response)
    for label in (NOT_RIGHT, LAST_TRY, LOCKED):
        if label in text:
            return label
    return f"{response.status_code} other"


def test_hundred_parallel_wrong_codes_record_at_most_five_tries(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    b = browser()
    assert b.sign_in(user.username).headers["Location"] == "/signin/code/"
    code = last_code(user)
    token = b.csrf_token("/signin/code/")
    tabs = [b.clone() for _ in range(100)]

    answers = parallel(100, lambda i: outcome(tabs[i].submit_code(other_code(code), csrf=token)))

    counts = Counter(answers)
    assert counts[NOT_RIGHT] == 5, counts
    assert counts[LAST_TRY] == 95, counts
    assert PendingSignIn.objects.get(user=user).code_attempts == 5
    assert SignInGuard.objects.get(user=user).code_failures == 5
    assert AuditEvent.objects.filter(action="signin.code_failed", subject=user).count() == 5
    # The tries are spent: the right code no longer opens anything.
    assert outcome(b.submit_code(code)) == LAST_TRY
    assert sessions_of(user) == 0


def test_parallel_wrong_codes_over_four_attempts_lock_the_user_once(browser, user_factory) -> None:
    user = user_factory("agent", "email")
    attempts = []
    for _ in range(4):  # four sign-ins with the right password, one code each
        b = browser()
        assert b.sign_in(user.username).headers["Location"] == "/signin/code/"
        attempts.append((b, b.csrf_token("/signin/code/"), last_code(user)))
    tabs = [(attempts[i % 4][0].clone(), attempts[i % 4][1], attempts[i % 4][2]) for i in range(40)]

    answers = parallel(
        40, lambda i: outcome(tabs[i][0].submit_code(other_code(tabs[i][2]), csrf=tabs[i][1]))
    )

    counts = Counter(answers)
    guard = SignInGuard.objects.get(user=user)
    assert counts[NOT_RIGHT] == 9, counts  # the tenth consecutive failure locks
    assert counts[LOCKED] >= 1, counts
    assert guard.lock_count == 1 and guard.locked_until is not None
    assert AuditEvent.objects.filter(action="signin.code_failed", subject=user).count() == 10
    assert AuditEvent.objects.filter(action="user.locked", subject=user).count() == 1
    # Locked: the right code of every attempt gets the locked answer.
    for b, token, code in attempts:
        assert outcome(b.submit_code(code, csrf=token)) == LOCKED
    assert sessions_of(user) == 0


def test_twenty_parallel_right_codes_open_exactly_one_session(browser, user_factory) -> None:
    """Regression (found by this campaign, fixed in 7df66b6). Was: one code, 20 parallel
    requests of its sign-in -> 5 to 15 sessions (and as many signin.success rows), plus
    HTTP 500s. After verify() commits code_passed=True, every request that loads the
    still-existing PendingSignIn takes code_step's `next_stage != CODE` branch into
    pipeline.advance() -> finish() -> login(); nothing claims the pending row atomically.
    Requests that lose the race crash in challenge.verify() on
    PendingSignIn.objects.select_for_update().get() (DoesNotExist)."""
    user = user_factory("agent", "sms")
    b = browser()
    assert b.sign_in(user.username).headers["Location"] == "/signin/code/"
    code = last_code(user)
    token = b.csrf_token("/signin/code/")
    tabs = [b.clone() for _ in range(20)]

    responses = parallel(20, lambda i: tabs[i].submit_code(code, csrf=token))

    statuses = Counter(r.status_code for r in responses)
    signed_in = [r for r in responses if r.status_code == 302 and r.headers["Location"] == "/"]
    assert sessions_of(user) == 1, statuses
    assert user_sessions_of(user) == 1
    assert AuditEvent.objects.filter(action="signin.success", subject=user).count() == 1
    assert len(signed_in) == 1, statuses
    assert not PendingSignIn.objects.filter(user=user).exists()
    # The losers are refused, not crashed.
    assert not [status for status in statuses if status >= 500], statuses
    # Only the tab that got the success holds a working session.
    keys = {r.cookies.get("deskgate_session") for r in signed_in}
    assert set(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == keys


def test_twenty_parallel_right_app_codes_open_exactly_one_session(
    browser, user_factory, clock
) -> None:
    """The authenticator app's code is checked on the attempt read once, locked, in the
    transaction that also finishes the sign-in (issue 17, session 10): of twenty parallel
    requests with the right code, one signs in, the others are refused, not crashed."""
    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(seconds=30))  # the set-up spent this step's code
    b = browser()
    assert b.sign_in(user.username).headers["Location"] == "/signin/code/"
    token = b.csrf_token("/signin/code/")
    code = app_code(secret)
    form = {"action": "verify_app", "with": "app", "app_code": code}
    tabs = [b.clone() for _ in range(20)]

    responses = parallel(20, lambda i: tabs[i].post("/signin/code/", form, csrf=token))

    statuses = Counter(r.status_code for r in responses)
    signed_in = [r for r in responses if r.status_code == 302 and r.headers["Location"] == "/"]
    assert len(signed_in) == 1, statuses
    assert sessions_of(user) == 1
    assert user_sessions_of(user) == 1
    assert AuditEvent.objects.filter(action="signin.success", subject=user).count() == 1
    assert not PendingSignIn.objects.filter(user=user).exists()
    assert not [status for status in statuses if status >= 500], statuses
    keys = {r.cookies.get("deskgate_session") for r in signed_in}
    assert set(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == keys


def test_thirty_parallel_wrong_passwords_lock_once_and_count_every_guess(
    browser, user_factory, settings
) -> None:
    # The address's budget (test_16) would answer the 31st attempt: this test is the lock's.
    settings.DESKGATE_SIGNIN_BUDGET = settings.DESKGATE_SIGNIN_BUDGET | {"ip": 1000}
    user = user_factory("agent", "off")
    attacker = browser()
    token = attacker.csrf_token("/signin/")
    tabs = [attacker.clone() for _ in range(30)]

    responses = parallel(
        30,
        lambda i: tabs[i].post(
            "/signin/", {"username": user.username, "password": f"guess {i}"}, csrf=token
        ),
    )

    assert {r.status_code for r in responses} == {200}
    guard = SignInGuard.objects.get(user=user)
    assert guard.password_lock_count == 1, "locked more than once, or not at all"
    assert guard.password_locked_until is not None
    assert guard.password_failures == 0  # the 10 wrong ones locked; 20 met the lock
    reasons = Counter(
        AuditEvent.objects.filter(action="signin.failure", subject=user).values_list(
            "detail__reason", flat=True
        )
    )
    assert reasons == {"wrong_password": 10, "locked": 20}
    assert AuditEvent.objects.filter(action="user.password_locked", subject=user).count() == 1
    # The right password now gets the very answer of a wrong one.
    right = attacker.sign_in(user.username, PASSWORD)
    wrong = attacker.sign_in(user.username, "yet another guess")
    assert right.status_code == wrong.status_code == 200
    assert comparable(right, user.username) == comparable(wrong, user.username)
    assert sessions_of(user) == 0 and attacker.whoami() is None
