"""The code engine (signin/codes.py, signin/throttle.py): one challenge, one back-off.

The primitives are tested as tables here; the flows that use them (the sign-in code step,
the contact-change confirmation, the password lock) keep their own tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client as HttpClient

from deskgate.accounts.audit import Actor
from deskgate.signin import codes, contact_change
from deskgate.signin.app_settings import CodePolicy, app_settings
from deskgate.signin.codes import Check, CodeChallenge
from deskgate.signin.throttle import Backoff, Lock
from tests.conftest import sign_in

BY = Actor(ip="127.0.0.1")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = CodePolicy(
    digits=6, lifetime=600, max_attempts=3, resend_cooldown=30, lock_after=4, lock_steps=(60,)
)


def issued() -> tuple[CodeChallenge, str]:
    state = CodeChallenge(binding="attempt-1")
    return state, state.issue(T0, POLICY)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_issuing_sets_the_whole_state_and_voids_the_previous_code() -> None:
    state, first = issued()
    assert (state.issued_at, state.expires_at) == (T0, T0 + timedelta(minutes=10))
    assert (state.attempts, state.sends) == (0, 1)
    assert state.code_hash == codes.code_hash("attempt-1", first)
    state.attempts = 2
    second = state.issue(T0 + timedelta(minutes=1), POLICY)
    assert (state.attempts, state.sends) == (0, 2)
    assert state.previous_hash == codes.code_hash("attempt-1", first)
    if first != second:
        assert state.check(first, T0 + timedelta(minutes=1), POLICY) == (False, Check.REPLACED)
        assert state.attempts == 0  # the replaced code counts no try
    assert state.check(second, T0 + timedelta(minutes=2), POLICY) == (True, Check.OK)
    assert state.code_hash == state.previous_hash == ""  # single use


@pytest.mark.parametrize(
    ("setup", "at", "expected"),
    [
        ("none", 0, (False, Check.NO_CODE)),
        ("fresh", 0, (True, Check.OK)),
        ("fresh", 599, (True, Check.OK)),
        ("fresh", 600, (False, Check.EXPIRED)),
        ("spent", 0, (False, Check.TOO_MANY)),
    ],
)
def test_check_answers_allowed_and_a_reason(setup: str, at: int, expected: Any) -> None:
    state, code = issued()
    if setup == "none":
        state = CodeChallenge(binding="attempt-1")
    if setup == "spent":
        state.attempts = POLICY.max_attempts
    assert state.check(code, T0 + timedelta(seconds=at), POLICY) == expected


def test_a_wrong_code_counts_a_try_until_the_code_is_spent() -> None:
    state, code = issued()
    for left in (2, 1, 0):
        assert state.check(other(code), T0, POLICY) == (False, Check.WRONG)
        assert state.tries_left(POLICY) == left
    assert state.check(code, T0, POLICY) == (False, Check.TOO_MANY)


def test_resend_wait_counts_down_from_the_last_send() -> None:
    state = CodeChallenge(binding="attempt-1")
    assert state.resend_wait(T0, POLICY) == 0
    state.issue(T0, POLICY)
    assert state.resend_wait(T0 + timedelta(seconds=10), POLICY) == 20
    assert state.resend_wait(T0 + timedelta(seconds=30), POLICY) == 0


def test_a_lock_grows_and_clears() -> None:
    backoff = Backoff(after=2, steps=(60, 300))
    lock = Lock()
    assert [lock.fail(T0, backoff) for _ in range(2)] == [False, True]
    assert lock.locked(T0 + timedelta(seconds=59)) and not lock.locked(T0 + timedelta(seconds=60))
    assert (lock.failures, lock.count) == (0, 1)
    lock.fail(T0, backoff)
    assert lock.fail(T0, backoff) and lock.until == T0 + timedelta(seconds=300)
    lock.fail(T0, backoff)
    assert lock.fail(T0, backoff) and lock.until == T0 + timedelta(seconds=300)  # repeats
    assert lock.clear() and lock == Lock()
    assert not lock.clear()


def test_backoff_steps_grow_and_the_last_one_repeats() -> None:
    lock = Backoff(after=3, steps=(60, 300))
    assert [lock.seconds(n) for n in range(4)] == [60, 300, 300, 300]


# --- the code's length is the policy's ----------------------------------------------------


@pytest.fixture
def eight_digits(settings: Any) -> None:
    settings.DESKGATE_CODE = settings.DESKGATE_CODE | {"digits": 8}


def test_codes_take_their_length_from_the_policy(eight_digits: None) -> None:
    assert app_settings.CODE.digits == 8
    assert all(len(codes.new_code()) == 8 for _ in range(50))
    assert codes.normalise("1234 5678") == "12345678"
    assert codes.normalise("123456") is None
    assert codes.not_a_code() == "A code has 8 digits."
    assert codes.input_pattern().endswith("{8}")


def test_an_eight_digit_code_signs_in(eight_digits: None, user_factory: Any) -> None:
    user = user_factory("agent", "email")
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    page = http.get("/signin/code/").content.decode()
    assert 'title="8 digits; spaces and dashes are fine"' in page
    assert "{8}" in page
    code = re.findall(r"\b(\d{8})\b", str(mail.outbox[-1].body))[-1]
    response = http.post("/signin/code/", {"action": "verify", "code": code[:6]})
    assert "A code has 8 digits." in response.content.decode()
    response = http.post("/signin/code/", {"action": "verify", "code": code})
    assert response["Location"] == "/"


def test_the_confirmation_code_takes_its_length_from_the_policy_too(
    eight_digits: None, user_factory: Any
) -> None:
    user = user_factory("agent", "email")
    by = Actor(user=user, ip="127.0.0.1")
    assert contact_change.start(user, "email", "new@example.com", by=by).ok
    code = re.findall(r"\b(\d{8})\b", str(mail.outbox[-1].body))[-1]
    assert contact_change.confirm(user, code[:6], by=by) == "A code has 8 digits."
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert contact_change.confirm(user, wrong, by=by) == "That code is not right. 4 tries left."
    assert contact_change.confirm(user, code, by=by) is None
    user.refresh_from_db()
    assert user.email == "new@example.com"
