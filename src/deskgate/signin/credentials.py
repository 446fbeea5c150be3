"""The password step: one answer and similar cost for every way it can fail."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.hashers import make_password

from deskgate.accounts.models import User
from deskgate.sso.models import ProviderConfig


class PasswordOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  # an outcome, not a secret
    INACTIVE = "inactive"
    SSO_ONLY = "sso_only"  # the client's SSO is mandatory: no password sign-in


def check_credentials(username: str, password: str) -> tuple[User | None, PasswordOutcome]:
    """Check a user name and password. The caller shows one message for every failure.

    The password is hashed in every case, so an unknown user name, an inactive user and
    a wrong password cost the same time.
    """
    user = (
        User.objects.select_related("client").filter(username__iexact=username.strip()).first()
        if username.strip()
        else None
    )
    if user is None:
        make_password(password)  # the same work as a real check
        return None, PasswordOutcome.UNKNOWN_USER
    if not user.check_password(password):
        return user, PasswordOutcome.WRONG_PASSWORD
    if not user.is_active:
        return user, PasswordOutcome.INACTIVE
    if ProviderConfig.objects.filter(client_id=user.client_id, mandatory=True).exists():
        return user, PasswordOutcome.SSO_ONLY
    return user, PasswordOutcome.OK
