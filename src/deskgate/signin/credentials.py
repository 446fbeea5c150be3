"""The password step: one answer and similar cost for every way it can fail.

Consecutive wrong passwords lock the account's password step for a growing period (the
lock counter lives in the database and is taken under a row lock, so parallel guesses
cannot exceed it); while locked, even the right password gets the same answer.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from deskgate.accounts import audit, rules
from deskgate.accounts.models import User
from deskgate.signin.models import SignInGuard


class PasswordOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  # an outcome, not a secret
    INACTIVE = "inactive"
    SSO_ONLY = "sso_only"  # the client's SSO is mandatory: no password sign-in
    LOCKED = "locked"  # too many wrong passwords in a row


def _lock_guard(user: User) -> SignInGuard:
    return SignInGuard.objects.locked_for(user)


def check_credentials(
    username: str, password: str, *, by: audit.Actor | None = None
) -> tuple[User | None, PasswordOutcome]:
    """Check a user name and password. The caller shows one message for every failure.

    The password is hashed in every case, so an unknown user name, an inactive or locked
    user and a wrong password cost the same time.
    """
    name = username.strip()
    user = (
        User.objects.select_related("client", "client__sso").filter(username__iexact=name).first()
    )
    if user is None:
        make_password(password)  # the same work as a real check
        return None, PasswordOutcome.UNKNOWN_USER
    policy = settings.DESKGATE_PASSWORD_LOCK
    with transaction.atomic():
        guard = _lock_guard(user)  # parallel guesses for one account queue here
        now = timezone.now()
        if guard.password_locked_until and guard.password_locked_until > now:
            make_password(password)
            return user, PasswordOutcome.LOCKED
        if not user.check_password(password):
            guard.password_failures += 1
            locked = guard.password_failures >= int(policy["after"])
            if locked:
                steps = [int(s) for s in policy["steps"]]
                seconds = steps[min(guard.password_lock_count, len(steps) - 1)]
                guard.password_lock_count += 1
                guard.password_failures = 0
                guard.password_locked_until = now + timedelta(seconds=seconds)
            guard.save(
                update_fields=["password_failures", "password_lock_count", "password_locked_until"]
            )
            if locked and by is not None:
                audit.record(
                    "user.password_locked",
                    client=user.client,
                    by=by,
                    subject=user,
                    summary=f"Password sign-in of {user.label} locked until "
                    f"{guard.password_locked_until:%Y-%m-%d %H:%M} UTC after wrong passwords",
                )
            return user, PasswordOutcome.WRONG_PASSWORD
        if guard.password_failures or guard.password_lock_count:
            guard.password_failures = 0
            guard.password_lock_count = 0
            guard.save(update_fields=["password_failures", "password_lock_count"])
    if not user.is_active:
        return user, PasswordOutcome.INACTIVE
    if rules.sso_mandatory(user.client):
        return user, PasswordOutcome.SSO_ONLY
    return user, PasswordOutcome.OK
