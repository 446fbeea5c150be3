"""The code step (R7): issue, resend and verify a code for one pending sign-in.

Every check-then-update runs in one transaction with the attempt's row and the user's
guard row locked (`select_for_update`), so parallel requests cannot use a code twice or
exceed a limit. Each answer carries a reason the page turns into its own message.

The code itself is the code engine's (`codes.CodeChallenge`, kept in the PendingSignIn
row); the user's code lock is a `throttle.Lock` kept in the SignInGuard row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from deskgate import rows
from deskgate.accounts import alerts, audit, languages, notify
from deskgate.accounts.models import AuditAction, MfaMethod, User
from deskgate.delivery import caps, channels
from deskgate.signin import codes
from deskgate.signin.app_settings import app_settings
from deskgate.signin.codes import Check as Check  # re-exported: the reason an Answer carries
from deskgate.signin.models import PendingSignIn, SignInGuard
from deskgate.signin.throttle import Lock


class Issue(StrEnum):
    SENT = "sent"
    COOLDOWN = "cooldown"
    CAPPED = "capped"
    LOCKED = "locked"
    FAILED = "failed"  # the server or gateway did not take the message
    NOT_NEEDED = "not_needed"  # the code step of this sign-in is passed already
    COUNTRY = "country"  # SMS to a country the client does not allow


@dataclass(frozen=True)
class Answer:
    reason: str
    tries_left: int = 0
    locked_until: datetime | None = None
    wait_seconds: int = 0
    capped_scope: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For the session, between the password step and the code page."""
        return {
            "reason": self.reason,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "wait_seconds": self.wait_seconds,
            "capped_scope": self.capped_scope,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        until = data.get("locked_until")
        return cls(
            reason=str(data.get("reason", "")),
            locked_until=datetime.fromisoformat(until) if until else None,
            wait_seconds=int(data.get("wait_seconds") or 0),
            capped_scope=str(data.get("capped_scope", "")),
        )


def _message(user: User, code: str) -> tuple[str, str]:
    """The code's subject and text in the user's language (theirs, their company's, else
    the one their browser asked this sign-in's pages in)."""
    minutes = app_settings.CODE.lifetime_minutes
    with languages.in_language_of(user, fallback=translation.get_language()):
        text = ngettext(
            "Your Deskgate sign-in code is %(code)s. It is valid for %(minutes)d minute. "
            "Do not share it with anyone.",
            "Your Deskgate sign-in code is %(code)s. It is valid for %(minutes)d minutes. "
            "Do not share it with anyone.",
            minutes,
        ) % {"code": code, "minutes": minutes}
        return gettext("Your Deskgate sign-in code"), text


def resend_wait(pending: PendingSignIn, now: datetime | None = None) -> int:
    """Seconds until this sign-in may ask for another code."""
    return pending.challenge().resend_wait(now or timezone.now(), app_settings.CODE)


def locked_pending(pending_id: int, user: User | None = None) -> PendingSignIn | None:
    """The sign-in attempt's row, locked for this transaction; None once it is gone.

    `user`: the attempt's user (with their client) as the caller read it with the attempt
    in this request; then only the attempt's own row is read again (issue 17: the join
    cost more to compile than to run). An attempt never changes user.
    """
    # of=("self",): lock the attempt only, not its user's and client's rows as well, so
    # sign-ins of one client never queue behind each other or behind an admin's edit.
    rows = PendingSignIn.objects.select_for_update(of=("self",))
    if user is None:
        return rows.select_related("user", "user__client").filter(pk=pending_id).first()
    pending = rows.filter(pk=pending_id, user_id=user.pk).first()
    if pending is not None:
        pending.user = user
    return pending


# Issuing a code reads the attempt and the user's guard row, both locked (the attempt
# first, as `verify` locks them), in one fixed statement (issue 17); the attempt's user is
# the caller's. No row: the attempt is gone, or the user has no guard row yet (a sign-in
# through SSO): then one at a time, as `verify` reads them.
_ISSUING = rows.Shape((PendingSignIn, "p"), (SignInGuard, "g"))
_ISSUING_SQL = (
    f"SELECT {_ISSUING.columns()} FROM {PendingSignIn._meta.db_table} p"  # noqa: S608  # our tables
    f" JOIN {SignInGuard._meta.db_table} g ON g.user_id = p.user_id"
    " WHERE p.id = %s AND p.user_id = %s"
)
_ISSUING_BY_VENDOR = {True: _ISSUING_SQL + " FOR UPDATE OF p, g", False: _ISSUING_SQL}
_CODE_COLUMNS = (
    "code_hash",
    "previous_code_hash",
    "code_issued_at",
    "code_expires_at",
    "code_attempts",
    "codes_sent",
    "code_channel",
    "code_destination",
)
_SAVE_CODE = (
    f"UPDATE {PendingSignIn._meta.db_table} SET "  # noqa: S608  # our table and columns
    + ", ".join(f"{column} = %s" for column in _CODE_COLUMNS)
    + " WHERE id = %s"
)


def _locked_for_issue(pending_id: int, user: User | None) -> tuple[PendingSignIn, Lock] | None:
    """The attempt and its user's code lock, both rows locked for this transaction; None
    once the attempt is gone."""
    if user is not None:
        sql = _ISSUING_BY_VENDOR[connection.features.has_select_for_update]
        found = _ISSUING.one(sql, [pending_id, user.pk])
        if found is not None:
            pending, guard = cast(tuple[PendingSignIn, SignInGuard], found)
            pending.user = user
            return pending, guard.code_lock
    alone = locked_pending(pending_id, user)
    if alone is None:
        return None
    return alone, SignInGuard.objects.locked_for(alone.user).code_lock


def _save_code(pending: PendingSignIn) -> None:
    """Write the attempt's code columns (its row is locked): one fixed UPDATE."""
    ops = connection.ops
    values = [getattr(pending, column) for column in _CODE_COLUMNS]
    values = [ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in values]
    with connection.cursor() as cursor:
        cursor.execute(_SAVE_CODE, [*values, pending.pk])


@dataclass(frozen=True)
class Issued:
    """A code issued to an attempt and admitted by the caps, in a transaction; `deliver`
    sends it once that transaction has committed."""

    pending: PendingSignIn
    code: str = field(repr=False)  # never logged
    permit: caps.Permit = field(repr=False)
    by: audit.Actor = field(repr=False)


def issue(pending_id: int, *, by: audit.Actor, user: User | None = None) -> Answer:
    """Send a new code for this sign-in, voiding the previous one, within every limit.
    `user`: the attempt's user, when the caller read it (see `locked_pending`)."""
    now = timezone.now()
    with transaction.atomic():
        found = _locked_for_issue(pending_id, user)
        if found is None:  # finished or voided by a parallel request
            return Answer(Issue.NOT_NEEDED)
        pending, lock = found
        if pending.code_passed:
            return Answer(Issue.NOT_NEEDED)
        if lock.locked(now):
            return Answer(Issue.LOCKED, locked_until=lock.until)
        wait = pending.challenge().resend_wait(now, app_settings.CODE)
        if wait:
            return Answer(Issue.COOLDOWN, wait_seconds=wait)
        permit = _admit(pending.user, by=by, now=now)
        if isinstance(permit, Answer):
            return permit
        code = _new_code(pending, now)
        _save_code(pending)
    # Deliver outside the transaction: a slow server must not hold the locks.
    return deliver(Issued(pending, code, permit, by))


def issue_first(
    pending: PendingSignIn,
    lock: Lock,
    *,
    by: audit.Actor,
    insert: Callable[[PendingSignIn], object],
) -> Answer | Issued:
    """The first code of an attempt that the caller's transaction creates, within every
    limit; `insert` inserts the attempt's row (always, once). `deliver` the code after the
    commit. `lock`: the user's code lock, from their guard row as this transaction read it
    locked (the password step's read). A new attempt has passed nothing and has no code to
    wait for: only the lock and the caps may refuse.

    The row is inserted with the code in it (issue 17: not inserted, read locked and
    updated in a second transaction), after the caps are counted: the caller's last writes
    (`rows.waiting`), the row and the attempt budget's give-back, then go as one statement
    on PostgreSQL while the caps' rows (the platform's is every sign-in's) stay locked.
    A refused code is never put in the row."""
    now = timezone.now()
    if lock.locked(now):
        insert(pending)
        return Answer(Issue.LOCKED, locked_until=lock.until)
    permit = _admit(pending.user, by=by, now=now)
    if isinstance(permit, Answer):
        insert(pending)  # a new attempt's row, without a code (as the code page expects)
        return permit
    code = _new_code(pending, now)
    insert(pending)
    return Issued(pending, code, permit, by)


def _new_code(pending: PendingSignIn, now: datetime) -> str:
    """A new code on the attempt (not saved), voiding the previous one; answer the code."""
    user = pending.user
    challenge = pending.challenge()
    code = challenge.issue(now, app_settings.CODE)
    pending.keep(challenge)
    pending.code_channel = user.mfa_method
    pending.code_destination = user.masked_mfa_destination()
    return code


def _admit(user: User, *, by: audit.Actor, now: datetime) -> caps.Permit | Answer:
    """A code to `user` counted against the caps (and the SMS countries), or the refusal's
    answer: a refusal counts nothing and is audited."""
    permit = caps.admit(notify.recipient_of(user), user.mfa_method, user.mfa_destination(), now=now)
    if permit == caps.Refusal.COUNTRY:
        # The number was saved before the client restricted the countries.
        audit.record(
            AuditAction.CODE_REFUSED_COUNTRY,
            client=user.client,
            by=by,
            subject=user,
            summary=f"No SMS code for {user.label}: the number's country is not allowed",
            destination=user.masked_mfa_destination(),
        )
        return Answer(Issue.COUNTRY)
    if isinstance(permit, caps.Refusal):
        audit.record(
            AuditAction.CODE_CAPPED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Code for {user.label} not sent: hourly limit ({permit}) reached",
            scope=permit.value,
        )
        alerts.send_capped(user, permit.value, now=now)
        return Answer(Issue.CAPPED, capped_scope=permit.value)
    return permit


def deliver(issued: Issued) -> Answer:
    """Send a code `issue` or `issue_first` admitted, after its transaction committed (a
    slow server must not hold the locks, and no code goes out that was rolled back)."""
    pending, by = issued.pending, issued.by
    user = pending.user
    channel = pending.code_channel
    subject, text = _message(user, issued.code)
    try:
        if channel == MfaMethod.SMS:
            channels.send_sms(issued.permit, codes.for_sms(text, issued.code))
        else:
            channels.send_email(issued.permit, subject, text)
    except channels.DeliveryError as exc:
        # Not sent: the code is void and the user may try again at once.
        PendingSignIn.objects.filter(pk=pending.pk, code_hash=pending.code_hash).update(
            code_hash="", code_issued_at=None, code_expires_at=None
        )
        audit.record(
            AuditAction.CODE_SEND_FAILED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Code for {user.label} could not be sent to {pending.code_destination}",
            channel=channel,
            destination=pending.code_destination,
            error=str(exc),
        )
        return Answer(Issue.FAILED, detail=str(exc))
    audit.record(
        AuditAction.CODE_SENT,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Code sent to {user.label} by {MfaMethod(channel).label} "
        f"to {pending.code_destination}",
        channel=channel,
        destination=pending.code_destination,
        number=pending.codes_sent,
    )
    return Answer(Issue.SENT)


# The code check reads the attempt and the user's guard row in one statement, both locked
# for its transaction (issue 17: two ORM reads cost more to compile than to run). The join
# locks them in the order of the FROM list, the attempt first, as `locked_pending` and then
# `locked_for` do: parallel checks and sends queue in one order.
_ATTEMPT_AND_GUARD = rows.Shape((PendingSignIn, "p"), (SignInGuard, "g"))
_LOCKED_WITH_GUARD = (
    f"SELECT {_ATTEMPT_AND_GUARD.columns()} FROM {PendingSignIn._meta.db_table} p"  # noqa: S608  # our tables
    f" JOIN {SignInGuard._meta.db_table} g ON g.user_id = p.user_id"
    " WHERE p.id = %s AND p.user_id = %s"
)


def _locked_with_guard(pending_id: int, user: User) -> tuple[PendingSignIn, SignInGuard] | None:
    """The attempt (of `user`) and the user's guard row, locked for this transaction; None
    when the attempt is gone or the guard row does not exist yet (the caller reads them
    one by one then: `locked_for` creates the row)."""
    # Without FOR UPDATE where the database has none (SQLite: a write transaction locks
    # the database).
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    found = _ATTEMPT_AND_GUARD.one(_LOCKED_WITH_GUARD + lock, [pending_id, user.pk])
    if found is None:
        return None
    pending, guard = cast(tuple[PendingSignIn, SignInGuard], found)
    pending.user = user
    return pending, guard


def _locked_state(pending_id: int, user: User | None) -> tuple[PendingSignIn, SignInGuard] | None:
    """The attempt and its user's guard row, locked (in one statement when it can)."""
    both = _locked_with_guard(pending_id, user) if user is not None else None
    if both is not None:
        return both
    pending = locked_pending(pending_id, user)
    if pending is None:
        return None
    return pending, SignInGuard.objects.locked_for(pending.user)


def _save(row: PendingSignIn | SignInGuard, fields: list[str]) -> None:
    """The changed fields of a locked row in one fixed UPDATE; nothing when none changed."""
    if fields:
        rows.update(row, fields)


def verify(
    pending_id: int,
    submitted: str,
    *,
    by: audit.Actor,
    user: User | None = None,
    fresh: PendingSignIn | None = None,
    save_pass: bool = True,
    locked: tuple[PendingSignIn, SignInGuard] | None = None,
) -> Answer:
    """Check a submitted code for this sign-in; count the failure or mark the step passed.

    The code is read as `codes.normalise` reads it: `977 743` is the code `977743`, and
    input that is not a code answers MALFORMED without counting a try. A wrong code counts
    against the code (`max_attempts`) and against the user's code lock (`lock_after`).
    `user`: the attempt's user, when the caller read it (see `locked_pending`). `fresh`:
    the caller's copy of the attempt, given the row's state as this check leaves it when
    the code is accepted (the caller need not read the row again). `save_pass=False`
    (with `fresh`): an accepted code's pass and spent code are not written to the row; the
    caller, in this transaction, either deletes the row (the sign-in is done: `pipeline`'s
    claim) or writes them with `save_passed` (issue 17: no UPDATE of a row about to go).
    `locked`: the attempt and its user's guard row as the caller read them locked in its
    transaction (`pipeline.checking`): not read again, and the attempt is changed in place.
    """
    if not save_pass and fresh is None:
        raise ValueError("save_pass=False leaves the pass to the caller: give `fresh`")
    code = codes.normalise(submitted)
    if code is None:
        return Answer(Check.MALFORMED)
    conf = app_settings.CODE
    now = timezone.now()
    # Within the caller's transaction (`pipeline.check_code`) no savepoint: nothing here
    # is undone while the rest stays, an error ends the whole transaction.
    with transaction.atomic(savepoint=False):
        both = locked or _locked_state(pending_id, user)
        if both is None:  # finished or voided by a parallel request
            return Answer(Check.NO_CODE)
        pending, guard = both
        user = pending.user
        lock = guard.code_lock
        if lock.locked(now):
            # The same answer whether the code is right or wrong: no oracle while locked.
            return Answer(Check.LOCKED, locked_until=lock.until)
        challenge = pending.challenge()
        accepted, reason = challenge.check(code, now, conf)
        if accepted:
            pending.code_passed = True
            spent = pending.keep(challenge)
            if save_pass:
                _save(pending, ["code_passed", *spent])
            if lock.clear():
                _save(guard, guard.keep_code_lock(lock))
            if fresh is not None and fresh is not pending:
                for field in PendingSignIn._meta.concrete_fields:
                    setattr(fresh, field.attname, getattr(pending, field.attname))
            return Answer(Check.OK)
        if reason != Check.WRONG:
            return Answer(reason)
        _save(pending, pending.keep(challenge))
        locked_now = lock.fail(now, conf.lock)
        _save(guard, guard.keep_code_lock(lock))
        audit.record(
            AuditAction.SIGNIN_CODE_FAILED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Wrong code for {user.label}",
            attempts=challenge.attempts,
        )
        if locked_now:
            audit.record(
                AuditAction.USER_LOCKED,
                client=user.client,
                by=by,
                subject=user,
                summary=f"{user.label} locked until {lock.until:%Y-%m-%d %H:%M} UTC "
                "after too many wrong codes",
                until=lock.until.isoformat() if lock.until else "",
            )
            alerts.user_locked(user, now=now)
            return Answer(Check.LOCKED, locked_until=lock.until)
        return Answer(Check.WRONG, tries_left=challenge.tries_left(conf))


# What an accepted code changes on the attempt: the pass and the code's state (spent).
_PASS_FIELDS = [
    "code_passed",
    "code_hash",
    "previous_code_hash",
    "code_issued_at",
    "code_expires_at",
    "code_attempts",
    "codes_sent",
]


def save_passed(pending: PendingSignIn) -> None:
    """Write the pass and the spent code of an attempt `verify(..., save_pass=False)`
    accepted, whose row its transaction keeps (and holds locked): one UPDATE."""
    rows.update(pending, _PASS_FIELDS)


def lock_state(user: User) -> SignInGuard | None:
    """The user's guard while either step is locked, else None."""
    guard = SignInGuard.objects.filter(user=user).first()
    now = timezone.now()
    if guard is None:
        return None
    return guard if guard.code_lock.locked(now) or guard.password_lock.locked(now) else None


def unlock(user: User, *, by: audit.Actor) -> bool:
    """An admin ends a lock early, of the code step or the password step; answer whether
    there was one."""
    now = timezone.now()
    with transaction.atomic():
        updated = SignInGuard.objects.filter(
            Q(locked_until__gt=now) | Q(password_locked_until__gt=now), user=user
        ).update(locked_until=None, password_locked_until=None)
        SignInGuard.objects.filter(user=user).update(code_failures=0, password_failures=0)
        if updated:
            audit.record(
                AuditAction.USER_UNLOCKED,
                client=user.client,
                by=by,
                subject=user,
                summary=f"{user.label} unlocked",
            )
    return bool(updated)
