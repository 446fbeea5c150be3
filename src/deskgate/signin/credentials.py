"""The password step: one answer and the same cost for every way it can fail.

Consecutive wrong passwords lock the account's password step for a growing period (the
lock counter lives in the database and is taken under a row lock, so parallel guesses
cannot exceed it); while locked, even the right password gets the same answer.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.crypto import salted_hmac

from deskgate.accounts import alerts, audit, contact, rules
from deskgate.accounts.models import AuditAction, User
from deskgate.signin import budget
from deskgate.signin.app_settings import app_settings
from deskgate.signin.models import SignInGuard, UnknownNameGuard


class PasswordOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  # an outcome, not a secret
    INACTIVE = "inactive"
    SSO_ONLY = "sso_only"  # the client's SSO is mandatory: no password sign-in
    LOCKED = "locked"  # too many wrong passwords in a row
    PAUSED = "paused"  # the address's (or network's) budget of attempts is spent


def sign_in_with_password(
    username: str, password: str, *, by: audit.Actor
) -> tuple[User | None, PasswordOutcome]:
    """The sign-in page's password step, for someone not signed in.

    First the address's and network's budget of attempts (`budget.take`, before the hash:
    a flood of guesses costs the server no CPU once it is spent); then the check; every
    refusal is audited. A right password gives its attempt back. The caller shows one
    message for every outcome but OK.
    """
    taken = budget.take(by.ip, by=by)
    if not taken.allowed:
        return None, PasswordOutcome.PAUSED
    user, outcome = _check(username, password, by=by, record_refusal=True)
    if outcome == PasswordOutcome.OK:
        budget.give_back(taken)
    return user, outcome


def check_credentials(
    username: str, password: str, *, by: audit.Actor | None = None
) -> tuple[User | None, PasswordOutcome]:
    """Check a user name and password (a signed-in user confirming it is them). The caller
    shows one message for every failure."""
    return _check(username, password, by=by, record_refusal=False)


def _check(
    username: str, password: str, *, by: audit.Actor | None, record_refusal: bool
) -> tuple[User | None, PasswordOutcome]:
    """The password is hashed in every case, and an unknown user name does the same
    database work as a known one (a guard row looked up and written, the refusal audited,
    in one transaction), so that the time an answer takes does not tell which user names
    exist."""
    name = username.strip()
    # lower(username) = lower(name): the unique lower(username) index serves it (iexact is
    # UPPER() on PostgreSQL, which no index serves: a scan of every user at every sign-in).
    user = (
        User.objects.select_related("client", "client__sso")
        .filter(Exact(Lower("username"), name.lower()))
        .first()
    )
    with transaction.atomic():
        outcome = _unknown_name(name, password) if user is None else _known(user, password, by)
        if record_refusal and by is not None and outcome != PasswordOutcome.OK:
            _record_refusal(user, outcome, by)
    return user, outcome


UNKNOWN_NAME_BUCKETS = 256


def _bucket(name: str) -> int:
    digest = salted_hmac("deskgate.signin.unknown-name", name.casefold()).digest()
    return int.from_bytes(digest[:4], "big") % UNKNOWN_NAME_BUCKETS


def _unknown_name(name: str, password: str) -> PasswordOutcome:
    # The work a known name with a wrong password does: a row locked, the hash, a failure
    # count written (see UnknownNameGuard).
    guard = UnknownNameGuard.objects.locked_for(_bucket(name))
    make_password(password)
    UnknownNameGuard.objects.filter(bucket=guard.bucket).update(
        password_failures=F("password_failures") + 1
    )
    return PasswordOutcome.UNKNOWN_USER


def _known(user: User, password: str, by: audit.Actor | None) -> PasswordOutcome:
    """Call inside a transaction: the guard row stays locked until it ends."""
    guard = SignInGuard.objects.locked_for(user)  # parallel guesses for one account queue here
    lock = guard.password_lock
    now = timezone.now()
    if lock.locked(now):
        make_password(password)
        return PasswordOutcome.LOCKED
    if not user.check_password(password):
        locked = lock.fail(now, app_settings.PASSWORD_LOCK)
        guard.save(update_fields=guard.keep_password_lock(lock))
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
        guard.save(update_fields=guard.keep_password_lock(lock))
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
