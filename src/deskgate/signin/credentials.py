"""The password step: one answer and the same cost for every way it can fail.

Consecutive wrong passwords lock the account's password step for a growing period (the
lock counter lives in the database and is taken under a row lock, so parallel guesses
cannot exceed it); while locked, even the right password gets the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import cast

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.crypto import salted_hmac

from deskgate import rows
from deskgate.accounts import alerts, audit, contact, rules
from deskgate.accounts.models import AuditAction, Client, User
from deskgate.signin import budget, factors, pipeline
from deskgate.signin.app_settings import app_settings
from deskgate.signin.models import (
    AuthenticatorApp,
    Passkey,
    PendingSignIn,
    SignInGuard,
    UnknownNameGuard,
)
from deskgate.signin.throttle import Lock

# The client's SSO settings (deskgate.sso, a layer above: reached through the relation).
SSO_CONFIG: type[Model] = Client._meta.get_field("sso").related_model


class PasswordOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  # an outcome, not a secret
    INACTIVE = "inactive"
    SSO_ONLY = "sso_only"  # the client's SSO is mandatory: no password sign-in
    LOCKED = "locked"  # too many wrong passwords in a row
    PAUSED = "paused"  # the address's (or network's) budget of attempts is spent


# What a right password leads to, in the check's transaction: given the user and their
# code lock (`SignInGuard.code_lock`, read with their guard row, locked).
Then = Callable[[User, Lock], None]


def sign_in_with_password(
    username: str,
    password: str,
    *,
    by: audit.Actor,
    only: User | None = None,
    then: Then | None = None,
) -> tuple[User | None, PasswordOutcome]:
    """The sign-in page's password step, for someone not signed in (or, with `only`, the
    signed-in user asked to sign in again: another user's name is refused as a wrong
    password, unaudited).

    First the address's and network's budget of attempts (`budget.take`, before the hash:
    a flood of guesses costs the server no CPU once it is spent); then the check; every
    refusal is audited. A right password gives its attempt back and runs `then` (the
    pipeline's next stage), both in the check's transaction: one commit. The caller shows
    one message for every outcome but OK.
    """
    taken = budget.take(by.ip, by=by)
    if not taken.allowed:
        return None, PasswordOutcome.PAUSED
    return _check(username, password, by=by, record_refusal=True, taken=taken, only=only, then=then)


def check_credentials(
    username: str, password: str, *, by: audit.Actor | None = None
) -> tuple[User | None, PasswordOutcome]:
    """Check a user name and password (a signed-in user confirming it is them). The caller
    shows one message for every failure."""
    return _check(username, password, by=by, record_refusal=False)


# The user with their client, its SSO settings and their guard row, locked, in one fixed
# statement (issue 17: the ORM's select_related of these wide models cost more CPU to
# compile than the database took to answer, and the guard row was a second statement).
# The guard row is locked in a subquery, so the user, client and SSO rows are not: sign-ins
# of one client never queue behind each other or an admin's edit. A user who never signed
# in has no guard row yet (the LEFT JOIN's missing row): it is created then.
# The last columns: whether the user has expired pending sign-ins (`pipeline.create_pending`
# deletes them only then), and their strong factors (the code step's first question).
_SIGNING_IN = rows.Shape((User, "u"), (Client, "c"), (SSO_CONFIG, "s"), (SignInGuard, "g"))
_GUARD_TABLE = SignInGuard._meta.db_table
_PENDING_TABLE = PendingSignIn._meta.db_table
_SIGNING_IN_SQL = (
    f"SELECT {_SIGNING_IN.columns()}, EXISTS(SELECT 1 FROM {_PENDING_TABLE} p"  # noqa: S608  # our tables
    " WHERE p.user_id = u.id AND p.expires_at < %s),"
    f" EXISTS(SELECT 1 FROM {AuthenticatorApp._meta.db_table} a"
    " WHERE a.user_id = u.id AND a.confirmed_at IS NOT NULL),"
    f" EXISTS(SELECT 1 FROM {Passkey._meta.db_table} k WHERE k.user_id = u.id)"
    f" FROM {User._meta.db_table} u JOIN {Client._meta.db_table} c ON c.id = u.client_id"
    f" LEFT JOIN {SSO_CONFIG._meta.db_table} s ON s.client_id = c.id"
    " LEFT JOIN {guard} ON {on} WHERE lower(u.username) = %s"
)
_LOCKED_GUARD = f"LATERAL (SELECT * FROM {_GUARD_TABLE} WHERE user_id = u.id FOR UPDATE) g"  # noqa: S608  # our table
_SIGNING_IN_BY_VENDOR = {
    True: _SIGNING_IN_SQL.format(guard=_LOCKED_GUARD, on="TRUE"),
    False: _SIGNING_IN_SQL.format(guard=f"{_GUARD_TABLE} g", on="g.user_id = u.id"),
}
# An unknown name's row (see UnknownNameGuard): locked and its count written in one
# statement, before the hash, as a known name's guard row is locked by the read above and
# written after a wrong password: the same statements either way.
_UNKNOWN_TABLE = UnknownNameGuard._meta.db_table
_UNKNOWN_NAME = (
    f"INSERT INTO {_UNKNOWN_TABLE} (bucket, password_failures) VALUES (%s, 1)"  # noqa: S608  # our table
    " ON CONFLICT (bucket) DO UPDATE"
    f" SET password_failures = {_UNKNOWN_TABLE}.password_failures + 1"
)
_PASSWORD_LOCK = (
    f"UPDATE {_GUARD_TABLE} SET password_failures = %s, password_lock_count = %s,"  # noqa: S608  # our table
    " password_locked_until = %s WHERE user_id = %s"
)


def _signing_in(name: str) -> tuple[User, SignInGuard | None] | None:
    """The user of this name with their client and SSO settings, and their guard row
    locked for this transaction (None when they have none yet); None for no such user."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = _SIGNING_IN_BY_VENDOR[connection.features.has_select_for_update]
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, name.lower()])
        row = cursor.fetchone()
    if row is None:
        return None
    user, client, sso, guard = cast(
        tuple[User, Client, Model | None, SignInGuard | None], _SIGNING_IN.build(row)
    )
    rows.attach(client, "sso", sso)
    rows.attach(user, "client", client)
    expired, app, key = row[_SIGNING_IN.width :]
    if not expired:
        pipeline.note_no_expired_sign_ins(user)
    factors.note_strong_factors(user, bool(app), bool(key))
    return user, guard


def _check(
    username: str,
    password: str,
    *,
    by: audit.Actor | None,
    record_refusal: bool,
    taken: budget.Taken | None = None,
    only: User | None = None,
    then: Then | None = None,
) -> tuple[User | None, PasswordOutcome]:
    """The password is hashed in every case, and an unknown user name does the same
    database work as a known one (a guard row locked and written, the refusal audited, in
    one transaction), so that the time an answer takes does not tell which user names
    exist. A right password gives back `taken`, the attempt taken from the budget, and
    then runs `then` (for `only`'s name alone, when given)."""
    name = username.strip()
    # On PostgreSQL the transaction's last writes (a right password's attempt row and the
    # budget's give-back; a wrong one's audit event) go as one statement (`rows.waiting`).
    with transaction.atomic(), rows.waiting():
        # lower(username) = lower(name): the unique lower(username) index serves it (iexact
        # is UPPER() on PostgreSQL, which no index serves: a scan of every user).
        found = _signing_in(name)
        guard = None
        if found is None:
            user = None
            outcome = _unknown_name(name, password)
        else:
            user, guard = found
            if guard is None:  # their first sign-in: the row is made (and locked) now
                guard = SignInGuard.objects.created_for(user)
            outcome = _known(user, guard, password, by)
        if record_refusal and by is not None and outcome != PasswordOutcome.OK:
            _record_refusal(user, outcome, by)
        right = outcome == PasswordOutcome.OK
        if only is not None and user is not None and user.pk != only.pk:
            outcome = PasswordOutcome.WRONG_PASSWORD  # someone else's name: not here
        if outcome == PasswordOutcome.OK and then is not None and guard is not None:
            then(cast(User, user), guard.code_lock)
        # Last before the commit: the address's and network's rows, which every password
        # step of an office takes, stay locked for the shortest time.
        if right and taken is not None:
            budget.give_back(taken)
    return user, outcome


UNKNOWN_NAME_BUCKETS = 256


def _bucket(name: str) -> int:
    digest = salted_hmac("deskgate.signin.unknown-name", name.casefold()).digest()
    return int.from_bytes(digest[:4], "big") % UNKNOWN_NAME_BUCKETS


def _unknown_name(name: str, password: str) -> PasswordOutcome:
    # The work a known name with a wrong password does: a row locked, the hash, a failure
    # count written (see UnknownNameGuard).
    with connection.cursor() as cursor:
        cursor.execute(_UNKNOWN_NAME, [_bucket(name)])
    make_password(password)
    return PasswordOutcome.UNKNOWN_USER


def _keep_password_lock(guard: SignInGuard, lock: Lock) -> None:
    """Write the password step's lock to the (locked) guard row, if it changed."""
    if not guard.keep_password_lock(lock):
        return
    until = connection.ops.adapt_datetimefield_value(lock.until)
    with connection.cursor() as cursor:
        cursor.execute(_PASSWORD_LOCK, [lock.failures, lock.count, until, guard.pk])


def _known(
    user: User, guard: SignInGuard, password: str, by: audit.Actor | None
) -> PasswordOutcome:
    """Call inside a transaction: the guard row (`guard`, read locked) stays locked until
    it ends, so parallel guesses for one account queue."""
    lock = guard.password_lock
    now = timezone.now()
    if lock.locked(now):
        make_password(password)
        return PasswordOutcome.LOCKED
    if not user.check_password(password):
        locked = lock.fail(now, app_settings.PASSWORD_LOCK)
        _keep_password_lock(guard, lock)
        if locked and by is not None:
            audit.record(
                AuditAction.USER_PASSWORD_LOCKED,
                client=user.client,
                by=by,
                subject=user,
                summary=f"Password sign-in of {user.label} locked until "
                f"{lock.until:%Y-%m-%d %H:%M} UTC after wrong passwords",
            )
            alerts.user_locked(user, now=now)
        return PasswordOutcome.WRONG_PASSWORD
    if lock.clear():  # a right password starts the count over
        _keep_password_lock(guard, lock)
    if not user.is_active:
        return PasswordOutcome.INACTIVE
    if rules.sso_mandatory(user.client):
        return PasswordOutcome.SSO_ONLY
    return PasswordOutcome.OK


def _record_refusal(user: User | None, outcome: PasswordOutcome, by: audit.Actor) -> None:
    if user is None:
        # The name typed is not kept: people type passwords into the user name field.
        audit.record(
            AuditAction.SIGNIN_FAILURE,
            client=None,
            by=by,
            summary="Sign-in refused at the password step: no user has that user name",
            reason=outcome.value,
        )
        return
    audit.record(
        AuditAction.SIGNIN_FAILURE,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Sign-in of {user.label} refused at the password step",
        reason=outcome.value,
    )


def sso_only_company(username: str) -> str | None:
    """The slug of the company whose mandatory SSO this active user signs in with, if any."""
    name = username.strip()
    # Raw POST data: a NUL or an overlong name cannot be anyone's (and PostgreSQL refuses a
    # NUL in a query parameter), so it is nobody, as an unknown name is.
    if not name or "\x00" in name or len(name) > contact.USERNAME_MAX:
        return None
    user = (
        User.objects.select_related("client", "client__sso")
        .filter(Exact(Lower("username"), name.lower()), is_active=True)
        .first()
    )
    if user is None or not rules.sso_mandatory(user.client):
        return None
    return user.client.slug
