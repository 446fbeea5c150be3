"""R7: the code, its limits and its messages, through the code step's flows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deskgate.accounts.audit import Actor
from deskgate.signin import challenge, codes
from deskgate.signin.challenge import Check, Issue
from deskgate.signin.models import PendingSignIn, SignInGuard
from tests.mailbox import codes_sent_to, last_code

BY = Actor(ip="127.0.0.1")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture(params=["email", "sms"])
def mfa_user(request, user_factory):
    return user_factory("agent", request.param)


def test_codes_are_six_digits_from_the_whole_range() -> None:
    seen = {codes.new_code() for _ in range(5000)}
    assert all(len(c) == 6 and c.isdigit() for c in seen)
    assert any(c.startswith("0") for c in seen)  # leading zeros kept
    assert len(seen) > 4900


def test_a_sent_code_signs_in_once_and_is_stored_only_hashed(mfa_user, pending_for) -> None:
    pending = pending_for(mfa_user)
    assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
    code = last_code(mfa_user)
    row = PendingSignIn.objects.get(pk=pending.pk)
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.code_destination == mfa_user.masked_mfa_destination()
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.OK
    # Single use: the same code again is refused.
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.NO_CODE


def test_a_code_is_bound_to_its_sign_in_attempt(user_factory, pending_for) -> None:
    user = user_factory("agent", "email")
    first, second = pending_for(user), pending_for(user)
    challenge.issue(first.pk, by=BY)
    code = last_code(user)
    challenge.issue(second.pk, by=BY)
    other = last_code(user)
    if other != code:
        assert challenge.verify(second.pk, code, by=BY).reason == Check.WRONG
    assert challenge.verify(first.pk, code, by=BY).reason == Check.OK


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (" {c}", Check.OK),
        ("{c} ", Check.OK),
        ("{c}\n", Check.OK),
        ("{fw}", Check.OK),
        ("{arabic}", Check.OK),
        ("{c3} {c4}", Check.OK),
        ("+{c}", Check.MALFORMED),
        ("{c}0", Check.MALFORMED),
    ],
    ids=["lead-space", "trail-space", "newline", "fullwidth", "arabic", "gap", "plus", "seven"],
)
def test_formatting_is_read_away_and_only_six_digits_are_a_code(
    user_factory, pending_for, shape: str, reason: Check
) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)
    arabic = "".join(chr(0x0660 + int(d)) for d in code)
    submitted = shape.format(c=code, fw=fullwidth, arabic=arabic, c3=code[:3], c4=code[3:])
    assert challenge.verify(pending.pk, submitted, by=BY).reason == reason
    assert PendingSignIn.objects.get(pk=pending.pk).code_attempts == 0  # no try counted
    if reason == Check.MALFORMED:
        assert challenge.verify(pending.pk, code, by=BY).reason == Check.OK
    else:  # single use in any spelling
        assert challenge.verify(pending.pk, code, by=BY).reason == Check.NO_CODE


def test_wrong_codes_count_down_then_the_code_is_spent(user_factory, pending_for) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    lefts = [challenge.verify(pending.pk, wrong(code), by=BY).tries_left for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    # The right code after five wrong ones: this code is spent.
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.TOO_MANY
    assert PendingSignIn.objects.get(pk=pending.pk).code_attempts == 5


def test_expired_after_ten_minutes(user_factory, pending_for, clock) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    clock(timedelta(minutes=10, seconds=1))
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.EXPIRED


def test_just_inside_ten_minutes_works(user_factory, pending_for, clock) -> None:
    user = user_factory("agent", "sms")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    code = last_code(user)
    clock(timedelta(minutes=9, seconds=59))
    assert challenge.verify(pending.pk, code, by=BY).reason == Check.OK


def test_resend_voids_the_previous_code_and_says_so(user_factory, pending_for, clock) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    old = last_code(user)
    assert challenge.issue(pending.pk, by=BY).reason == Issue.COOLDOWN
    clock(timedelta(seconds=31))
    assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
    new = last_code(user)
    if new != old:
        assert challenge.verify(pending.pk, old, by=BY).reason == Check.REPLACED
    assert challenge.verify(pending.pk, new, by=BY).reason == Check.OK


def test_cooldown_says_how_long_to_wait(user_factory, pending_for, clock) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    clock(timedelta(seconds=10))
    answer = challenge.issue(pending.pk, by=BY)
    assert answer.reason == Issue.COOLDOWN and answer.wait_seconds == 20


def test_resends_do_not_reset_consecutive_failures_and_ten_lock(
    user_factory, pending_for, clock
) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    outcomes = []
    for _round in range(2):
        clock(timedelta(seconds=31))
        assert challenge.issue(pending.pk, by=BY).reason == Issue.SENT
        code = last_code(user)
        outcomes += [challenge.verify(pending.pk, wrong(code), by=BY).reason for _ in range(5)]
    assert outcomes[:9] == [Check.WRONG] * 9
    assert outcomes[9] == Check.LOCKED
    guard = SignInGuard.objects.get(user=user)
    assert guard.locked_until is not None and guard.lock_count == 1


def test_while_locked_the_right_code_gets_the_same_answer(user_factory, pending_for, clock):
    user = user_factory("agent", "email")
    pending = pending_for(user)
    for _ in range(2):
        clock(timedelta(seconds=31))
        challenge.issue(pending.pk, by=BY)
        code = last_code(user)
        for _ in range(5):
            challenge.verify(pending.pk, wrong(code), by=BY)
    fresh = pending_for(user)
    assert challenge.issue(fresh.pk, by=BY).reason == Issue.LOCKED  # nothing sent while locked
    right = challenge.verify(pending.pk, code, by=BY)
    wrong_answer = challenge.verify(pending.pk, wrong(code), by=BY)
    assert right.reason == wrong_answer.reason == Check.LOCKED
    assert right.locked_until == wrong_answer.locked_until


def test_locks_grow_and_a_success_resets(user_factory, pending_for, clock) -> None:
    user = user_factory("agent", "email")
    durations = []
    for _lock in range(3):
        pending = pending_for(user)
        for _round in range(2):
            clock(timedelta(seconds=31))
            challenge.issue(pending.pk, by=BY)
            code = last_code(user)
            for _ in range(5):
                answer = challenge.verify(pending.pk, wrong(code), by=BY)
        assert answer.reason == Check.LOCKED
        guard = SignInGuard.objects.get(user=user)
        start = clock(timedelta())
        durations.append(round((guard.locked_until - start).total_seconds()))
        clock(guard.locked_until - start + timedelta(seconds=1))
    assert durations == [60, 300, 900]
    pending = pending_for(user)
    challenge.issue(pending.pk, by=BY)
    assert challenge.verify(pending.pk, last_code(user), by=BY).reason == Check.OK
    guard = SignInGuard.objects.get(user=user)
    assert (guard.code_failures, guard.lock_count, guard.locked_until) == (0, 0, None)


def test_an_admin_unlock_ends_the_lock(user_factory, pending_for, clock, admin_user) -> None:
    user = user_factory("agent", "email")
    pending = pending_for(user)
    for _ in range(2):
        clock(timedelta(seconds=31))
        challenge.issue(pending.pk, by=BY)
        for _ in range(5):
            challenge.verify(pending.pk, "000000" if last_code(user) != "000000" else "1", by=BY)
    assert challenge.lock_state(user) is not None
    assert challenge.unlock(user, by=Actor(user=admin_user)) is True
    assert challenge.lock_state(user) is None
    fresh = pending_for(user)
    assert challenge.issue(fresh.pk, by=BY).reason == Issue.SENT


@pytest.mark.parametrize("scope", ["user", "client", "platform"])
def test_hourly_caps_hold_and_name_the_scope(user_factory, pending_for, settings, scope) -> None:
    settings.DESKGATE_SEND_CAPS = {"user": 100, "client": 100, "platform": 100} | {scope: 3}
    users = [user_factory("agent", "email") for _ in range(4)]
    answers = []
    for i in range(4):
        user = users[0] if scope == "user" else users[i]
        answers.append(challenge.issue(pending_for(user).pk, by=BY))
    assert [a.reason for a in answers] == [Issue.SENT] * 3 + [Issue.CAPPED]
    assert answers[3].capped_scope == scope
    assert sum(codes_sent_to(u) for u in users) == 3


def test_the_client_cap_is_per_client(user_factory, tenant_factory, pending_for, settings):
    settings.DESKGATE_SEND_CAPS = {"user": 100, "client": 1, "platform": 100}
    other = tenant_factory("Other")
    a = user_factory("agent", "email")
    b = user_factory("agent", "email", client=other)
    assert challenge.issue(pending_for(a).pk, by=BY).reason == Issue.SENT
    assert challenge.issue(pending_for(b).pk, by=BY).reason == Issue.SENT
    assert challenge.issue(pending_for(a).pk, by=BY).reason == Issue.CAPPED


def test_a_failed_send_voids_the_code_and_allows_a_retry(user_factory, pending_for, settings):
    from deskgate.conf import KannelConfig

    user = user_factory("agent", "sms")
    # A gateway that refuses connections: nothing listens on port 9 of loopback.
    settings.DESKGATE_SMS = KannelConfig("127.0.0.1", 9, "u", "p", "Deskgate", False)
    pending = pending_for(user)
    answer = challenge.issue(pending.pk, by=BY)
    assert answer.reason == Issue.FAILED
    row = PendingSignIn.objects.get(pk=pending.pk)
    assert row.code_hash == "" and challenge.resend_wait(row) == 0
    from deskgate.accounts.models import AuditEvent

    event = AuditEvent.objects.filter(action="code.send_failed", subject=user).get()
    assert user.work_phone not in str(event.detail) and user.work_phone not in event.summary


def test_a_first_code_the_caps_refuse_leaves_the_new_attempt_without_a_code(
    user_factory, settings
) -> None:
    """The password step inserts its attempt with the first code in it, then counts the
    caps (issue 17): a refusal voids the code again in the same transaction, so the attempt
    is as one that never had a code (nothing to type, nothing to wait for), and no send
    counter moved for it."""
    from django.test import Client as HttpClient

    from deskgate.accounts.models import AuditEvent
    from deskgate.delivery.models import SendCounter
    from tests.conftest import PASSWORD

    settings.DESKGATE_SEND_CAPS = {"user": 1, "client": 100, "platform": 100}
    user = user_factory("agent", "email")
    for _ in range(2):  # the hour's one code, then the refused one
        http = HttpClient()
        response = http.post("/signin/", {"username": user.username, "password": PASSWORD})
        assert response["Location"] == "/signin/code/"
    assert codes_sent_to(user) == 1
    assert AuditEvent.objects.filter(action="code.capped", subject=user).count() == 1
    refused = PendingSignIn.objects.filter(user=user).order_by("-pk").first()
    assert refused is not None
    assert (refused.code_hash, refused.codes_sent, refused.code_channel) == ("", 0, "")
    assert refused.code_issued_at is None and refused.code_expires_at is None
    assert challenge.resend_wait(refused) == 0
    assert dict(SendCounter.objects.values_list("scope", "count"))[f"user:{user.pk}"] == 1
