"""The authenticator app and recovery codes: set up, remove, reset, and check at sign-in.

Every check of a typed app code or recovery code at sign-in runs in one transaction with
the attempt's row and the user's `SignInGuard` row locked, like an Email or SMS code
(`challenge.verify`): the same 5 wrong tries per attempt, the same lock after 10
consecutive failures, the same admin unlock. On top of the row locks, a code is spent by
one conditional UPDATE (the app's `last_used_step`, a recovery code's `used_at`), so a code
works once even across two attempts racing each other.

Nothing here logs or records a code or a secret; the audit trail says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import alerts, audit, notify, permissions
from deskgate.accounts.models import AuditAction, Level, User
from deskgate.signin import policy, totp
from deskgate.signin.app_settings import app_settings
from deskgate.signin.challenge import Answer, locked_pending
from deskgate.signin.models import (
    AuthenticatorApp,
    Passkey,
    PendingSignIn,
    RecoveryCode,
    SecondFactor,
    SignInGuard,
)


class FactorCheck(StrEnum):
    """Why a typed app code or recovery code was or was not accepted."""

    OK = "ok"
    WRONG = "wrong"
    USED = "used"  # the app's code of a step used already, or a recovery code used
    TOO_MANY = "too_many"  # this attempt's tries are spent: start the sign-in again
    LOCKED = "locked"
    NO_FACTOR = "no_factor"  # no app set up (reset meanwhile), or the attempt is over
    MALFORMED = "malformed"  # not a code at all: no try counted
    CLONED = "cloned"  # a passkey whose sign counter went back: refused, counted, audited


# -- what a user has ---------------------------------------------------------------------


def app_of(user: User) -> AuthenticatorApp | None:
    """The user's confirmed authenticator app, or None."""
    return AuthenticatorApp.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_app(user: User) -> bool:
    return AuthenticatorApp.objects.filter(user=user, confirmed_at__isnull=False).exists()


def has_strong_factor(user: User) -> bool:
    """Whether the user has a factor the client's policy calls strong (`strong_factor_levels`):
    a confirmed authenticator app or a passkey. One query."""
    return any(strong_factors(user))


def strong_factor_columns(user_id: str) -> str:
    """(has an app, has a passkey) as two select-list columns for the user whose id is the
    SQL expression `user_id` (a parameter, or a column of the caller's statement: the code
    page reads them with its attempt, `pipeline.current_with_factors`)."""
    app, key = AuthenticatorApp._meta, Passkey._meta
    return (
        f"EXISTS(SELECT 1 FROM {app.db_table} WHERE {app.get_field('user').column} = {user_id}"  # noqa: S608  # our tables
        " AND confirmed_at IS NOT NULL),"
        f" EXISTS(SELECT 1 FROM {key.db_table} WHERE {key.get_field('user').column} = {user_id})"
    )


def _strong_factors_sql() -> str:
    return f"SELECT {strong_factor_columns('%s')}"


_STRONG_FACTORS = _strong_factors_sql()


# (has an app, has a passkey) read with the user by the password step's statement
# (`credentials`): the next `strong_factors` of that instance, once, asks nothing.
_READ_WITH_USER = "_deskgate_strong_factors"


def note_strong_factors(user: User, app: bool, key: bool) -> None:
    """The user's strong factors as a statement of this request read them with the user."""
    setattr(user, _READ_WITH_USER, (app, key))


def strong_factors(user: User) -> tuple[bool, bool]:
    """(has an app, has a passkey), in one query: the code step asks both on every request.

    A fixed statement: the ORM's form of it (two `Exists` annotations) cost more to compile
    each time than the database took to answer it (issue 17). None when the password step
    read them with the user a moment ago (`note_strong_factors`)."""
    known: tuple[bool, bool] | None = user.__dict__.pop(_READ_WITH_USER, None)
    if known is not None:
        return known
    with connection.cursor() as cursor:
        cursor.execute(_STRONG_FACTORS, [user.pk, user.pk])
        app, key = cursor.fetchone()
    return bool(app), bool(key)


class StrongFactor(StrEnum):
    """A kind of strong factor, as the user list names it."""

    APP = "App"
    PASSKEY = "Passkey"


def _strong_counts(user_ids: Iterable[int]) -> dict[int, tuple[bool, int]]:
    """(has an app, how many passkeys) of many users, by user id, in one query."""
    rows = (
        User.objects.filter(pk__in=list(user_ids))
        .annotate(
            app=Exists(
                AuthenticatorApp.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False)
            ),
            keys=Count("passkeys", distinct=True),
        )
        .values_list("pk", "app", "keys")
    )
    return {pk: (bool(app), int(keys)) for pk, app, keys in rows}


def strong_factors_of(user_ids: Iterable[int]) -> dict[int, list[StrongFactor]]:
    """The strong factors of many users (a page of the user list), by user id, in one query
    whatever the number of users. A user with none is not in it."""
    ids = list(user_ids)
    if not ids:
        return {}
    found: dict[int, list[StrongFactor]] = {}
    for pk, (app, keys) in _strong_counts(ids).items():
        kinds = [StrongFactor.APP] * app + [StrongFactor.PASSKEY] * bool(keys)
        if kinds:
            found[pk] = kinds
    return found


def last_strong_factor_refusal(user: User, removing: StrongFactor) -> str | None:
    """Why the user may not remove one `removing` (their app, or one of their passkeys)
    themselves: it is their last strong factor and the policy requires one. None when they
    may."""
    if not policy.strong_factor_required(user):
        return None
    app, keys = _strong_counts([user.pk]).get(user.pk, (False, 0))
    left = int(app) + keys - 1  # what stays after this one goes
    if left > 0:
        return None
    level = Level(user.level).label.lower()
    return (
        f"Your company requires {level}s to use an authenticator app or a passkey, and this is "
        "your only one. Set up another before you remove it; if you lost your phone or key, "
        "ask your admin to reset it."
    )


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at=None, voided_at=None).count()


# -- setting the app up ------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the set-up page shows: the secret (only now), as a QR code and as text."""

    secret: str
    uri: str

    @property
    def qr_svg(self) -> str:
        return totp.qr_svg(self.uri)

    @property
    def grouped_secret(self) -> str:
        return totp.grouped(self.secret)


def may_enrol(user: User) -> str | None:
    """Why this user cannot set up an authenticator app now, or None when they can."""
    if not user.client.supports_mfa:
        return (
            f"Your company's release {user.client.release} has no MFA: authenticator apps "
            "come with release 25.x."
        )
    if not user.mfa_applies and not has_app(user):
        return (
            "You have no second factor yet to prove it is you. Ask your admin to set your MFA "
            "to Email or SMS first, then set up the app."
        )
    return None


def start_enrolment(user: User) -> Enrolment:
    """A new secret for the user's app, waiting for its first code (it replaces a set-up
    that was not confirmed). Refused when an app is set up already: remove it first."""
    if has_app(user):
        raise ValidationError(gettext("An authenticator app is set up already; remove it first."))
    secret = totp.new_secret()
    now = timezone.now()
    AuthenticatorApp.objects.update_or_create(
        user=user,
        confirmed_at=None,
        defaults={"sealed_secret": totp.seal(secret), "created_at": now, "last_used_step": None},
    )
    return Enrolment(secret, totp.provisioning_uri(secret, user.username))


def enrolment_in_progress(user: User) -> Enrolment | None:
    """The set-up waiting for its first code, to show again after a wrong one."""
    app = AuthenticatorApp.objects.filter(user=user, confirmed_at=None).first()
    secret = totp.unseal(app.sealed_secret) if app is not None else None
    if secret is None:
        return None
    return Enrolment(secret, totp.provisioning_uri(secret, user.username))


def confirm_enrolment(user: User, typed: str, *, by: audit.Actor) -> list[str]:
    """The first code from the app confirms the set-up; answer the new recovery codes (to
    show once). Raises ValidationError (on "code") when the code is not the app's."""
    now = timezone.now()
    with transaction.atomic():
        app = (
            AuthenticatorApp.objects.select_for_update()
            .filter(user=user, confirmed_at=None)
            .first()
        )
        secret = totp.unseal(app.sealed_secret) if app is not None else None
        if app is None or secret is None:
            raise ValidationError({"code": "The set-up expired. Start it again."})
        step = totp.matching_step(secret, typed, now)
        if step is None:
            raise ValidationError(
                {"code": "That is not the app's current code. Check the clock of your phone."}
            )
        app.confirmed_at = now
        app.last_used_step = step  # the confirming code cannot sign anyone in afterwards
        app.last_used_at = now
        app.save(update_fields=["confirmed_at", "last_used_step", "last_used_at"])
        audit.record(
            AuditAction.AUTHENTICATOR_ENROLLED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} set up an authenticator app",
        )
        notify.factor_event(user, _("an authenticator app was set up for sign-in"), by=by)
        return new_recovery_codes(user, by=by, now=now)


def regenerate_recovery_codes(user: User, *, by: audit.Actor) -> list[str]:
    """A new set of recovery codes (to show once); the previous set stops working."""
    if not has_strong_factor(user):
        raise ValidationError(
            gettext("Recovery codes come with an authenticator app or a passkey: set one up first.")
        )
    with transaction.atomic():
        return new_recovery_codes(user, by=by, now=timezone.now())


def new_recovery_codes(user: User, *, by: audit.Actor, now: datetime) -> list[str]:
    """Make the user's ten recovery codes (inside the caller's transaction), voiding any
    left; answer them as shown, once. The first strong factor set up (app or passkey)
    calls this; so does Make new recovery codes."""
    voided = RecoveryCode.objects.filter(user=user, used_at=None, voided_at=None).update(
        voided_at=now
    )
    fresh = totp.new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=totp.recovery_hash(user.pk, c), created_at=now)
        for c in fresh
    )
    audit.record(
        AuditAction.RECOVERY_CODES_CREATED,
        client=user.client,
        by=by,
        subject=user,
        summary=f"{len(fresh)} recovery codes made for {user.label}"
        + (f"; the {voided} left of the previous set no longer work" if voided else ""),
        count=len(fresh),
        voided=voided,
    )
    if voided:
        what = _("new recovery codes were made; the old ones no longer work")
        notify.factor_event(user, what, by=by)
    return [totp.shown(c) for c in fresh]


def remove_app(user: User, *, by: audit.Actor) -> bool:
    """The user removes their own app (its recovery codes go with it); answer whether
    there was one. An admin's reset is `reset_app`."""
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied(gettext("Only the user removes their own app; an admin resets it."))
    # The policy and level as stored now, not as this user object was loaded.
    stored = User.objects.select_related("client").get(pk=user.pk)
    refusal = last_strong_factor_refusal(stored, StrongFactor.APP)
    if refusal is not None and has_app(user):
        raise ValidationError(refusal)
    return _remove(user, by=by, summary=f"{user.label} removed their authenticator app")


def reset_app(user: User, *, by: audit.Actor) -> bool:
    """An admin resets a user's app (an MFA setting: `user.reset_factors` in the permission
    table): the user sets it up again. Answer whether there was one."""
    permissions.check(by, permissions.Op.USER_RESET_FACTORS, user.client_id, user.level)
    return _remove(
        user, by=by, summary=f"Authenticator app of {user.label} reset by {by.label}", reset=True
    )


def _remove(user: User, *, by: audit.Actor, summary: str, reset: bool = False) -> bool:
    now = timezone.now()
    with transaction.atomic():
        removed, _by_model = AuthenticatorApp.objects.filter(user=user).delete()
        void_recovery_codes_if_last(user, now)
        if not removed:
            return False
        audit.record(
            AuditAction.AUTHENTICATOR_REMOVED,
            client=user.client,
            by=by,
            subject=user,
            summary=summary,
            reset=reset,
        )
        what = (
            format_lazy(_("your authenticator app was reset by {who}"), who=by.label)
            if reset
            else _("your authenticator app was removed")
        )
        notify.factor_event(user, what, by=by)
    return True


def void_recovery_codes_if_last(user: User, now: datetime) -> None:
    """Recovery codes stand in for a strong factor: they go with the last one removed."""
    if not has_strong_factor(user):
        RecoveryCode.objects.filter(user=user, used_at=None, voided_at=None).update(voided_at=now)


# -- at sign-in --------------------------------------------------------------------------


def verify_app(
    pending_id: int, typed: str, *, by: audit.Actor, locked: Locked | None = None
) -> Answer:
    """Check a code from the user's app for this sign-in (the code step; `locked`: as
    `check_factor` takes it)."""
    code = totp.normalise_code(typed)
    if code is None:
        return Answer(FactorCheck.MALFORMED)
    return _verify(pending_id, SecondFactor.APP, code, by=by, locked=locked)


def use_recovery_code(
    pending_id: int, typed: str, *, by: audit.Actor, locked: Locked | None = None
) -> Answer:
    """Spend one of the user's recovery codes on this sign-in (the code step; `locked`: as
    `check_factor` takes it)."""
    code = totp.normalise_recovery(typed)
    if code is None:
        return Answer(FactorCheck.MALFORMED)
    return _verify(pending_id, SecondFactor.RECOVERY, code, by=by, locked=locked)


def _spend(user: User, factor: SecondFactor, code: str, now: datetime) -> FactorCheck:
    """Match and spend the code with one conditional UPDATE: of parallel requests with the
    same code, exactly one changes a row."""
    if factor == SecondFactor.APP:
        app = app_of(user)
        secret = totp.unseal(app.sealed_secret) if app is not None else None
        if app is None or secret is None:
            return FactorCheck.NO_FACTOR
        step = totp.matching_step(secret, code, now)
        if step is None:
            return FactorCheck.WRONG
        spent = AuthenticatorApp.objects.filter(
            Q(last_used_step__isnull=True) | Q(last_used_step__lt=step),
            pk=app.pk,
            confirmed_at__isnull=False,
        ).update(last_used_step=step, last_used_at=now)
        return FactorCheck.OK if spent else FactorCheck.USED
    rows = RecoveryCode.objects.filter(user=user, code_hash=totp.recovery_hash(user.pk, code))
    if not rows.exists():
        return FactorCheck.WRONG
    spent = rows.filter(used_at=None, voided_at=None).update(used_at=now)
    return FactorCheck.OK if spent else FactorCheck.USED


def _verify(
    pending_id: int, factor: SecondFactor, code: str, *, by: audit.Actor, locked: Locked | None
) -> Answer:
    what = "authenticator app code" if factor == SecondFactor.APP else "recovery code"
    return check_factor(
        pending_id,
        factor,
        lambda user, now: _spend(user, factor, code, now),
        by=by,
        what=what,
        locked=locked,
    )


# What a factor's check answers: the outcome, and amr values to keep on the attempt (a
# passkey's hwk/swk and user; nothing for the app or a recovery code).
Spend = Callable[[User, datetime], "FactorCheck | tuple[FactorCheck, str]"]
# The attempt and its user's guard row, read locked by the caller in its transaction.
Locked = tuple[PendingSignIn, SignInGuard]
# What an accepted second factor changes on the attempt.
FACTOR_PASSED = ("code_passed", "second_factor", "key_amr")


def check_factor(
    pending_id: int,
    factor: SecondFactor,
    spend: Spend,
    *,
    by: audit.Actor,
    what: str,
    locked: Locked | None = None,
) -> Answer:
    """Run one check of a second factor for this sign-in under R7's rules, with the
    attempt's and the user's guard rows locked: `spend` matches and spends it (the app's
    code, a recovery code, a passkey's assertion). A failure counts as a wrong code does:
    5 per attempt, the lock after 10 consecutive failures of any factor.

    `locked`: the attempt and the guard row as the caller read them locked in its
    transaction (`pipeline.checking`), the check joins it: they are not read again, the
    attempt is changed in place, and an accepted factor's pass is left to the caller, in
    that transaction (`pipeline.factor_passed`: no UPDATE of an attempt about to go)."""
    conf = app_settings.CODE
    now = timezone.now()
    # Within the caller's transaction no savepoint: an error ends the whole transaction.
    with transaction.atomic(savepoint=False):
        if locked is not None:
            pending, guard = locked
            if pending.code_passed:
                return Answer(FactorCheck.NO_FACTOR)
        else:
            found = locked_pending(pending_id)
            if found is None or found.code_passed:
                return Answer(FactorCheck.NO_FACTOR)
            pending, guard = found, SignInGuard.objects.locked_for(found.user)
        user = pending.user
        lock = guard.code_lock
        if lock.locked(now):
            # The same answer whether the code is right or wrong: no oracle while locked.
            return Answer(FactorCheck.LOCKED, locked_until=lock.until)
        if pending.factor_attempts >= conf.max_attempts:
            return Answer(FactorCheck.TOO_MANY)
        spent = spend(user, now)
        outcome, amr = spent if isinstance(spent, tuple) else (spent, "")
        if outcome == FactorCheck.OK:
            pending.code_passed = True
            pending.second_factor = factor
            pending.key_amr = amr
            if locked is None:
                pending.save(update_fields=list(FACTOR_PASSED))
            if lock.clear():
                guard.save(update_fields=guard.keep_code_lock(lock))
            if factor == SecondFactor.RECOVERY:
                _recovery_code_used(user, by=by)
            return Answer(FactorCheck.OK)
        if outcome == FactorCheck.NO_FACTOR:
            return Answer(outcome)
        # A wrong code, or one used already: both count, as a wrong Email or SMS code does
        # (a replayed code is what someone who watched the screen would type).
        pending.factor_attempts += 1
        pending.save(update_fields=["factor_attempts"])
        locked_now = lock.fail(now, conf.lock)
        guard.save(update_fields=guard.keep_code_lock(lock))
        audit.record(
            AuditAction.SIGNIN_CODE_FAILED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Wrong {what} for {user.label}"
            + (" (used already)" if outcome == FactorCheck.USED else "")
            + (" (refused: a possibly cloned key)" if outcome == FactorCheck.CLONED else ""),
            factor=factor.value,
            attempts=pending.factor_attempts,
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
            return Answer(FactorCheck.LOCKED, locked_until=lock.until)
        return Answer(outcome, tries_left=max(0, conf.max_attempts - pending.factor_attempts))


def _recovery_code_used(user: User, *, by: audit.Actor) -> None:
    left = recovery_codes_left(user)
    audit.record(
        AuditAction.RECOVERY_CODE_USED,
        client=user.client,
        by=by,
        subject=user,
        summary=f"{user.label} signed in with a recovery code; {left} left",
        left=left,
    )
    notify.factor_event(
        user,
        format_lazy(
            ngettext_lazy(
                "a recovery code was used to sign in; {left} recovery code is left",
                "a recovery code was used to sign in; {left} recovery codes are left",
                left,
            ),
            left=left,
        ),
        by=by,
    )
