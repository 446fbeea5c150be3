"""Factor state the sign-in app keeps per user, and how a changed factor voids it."""

from __future__ import annotations

from deskgate.accounts.models import User
from deskgate.signin.models import PendingSignIn, RememberedDevice


def void_factor_state(user: User) -> None:
    """The user's method, destination or password changed: pending codes and remembered
    devices are void, and any sign-in in progress starts over."""
    PendingSignIn.objects.filter(user=user).delete()
    RememberedDevice.objects.filter(user=user).delete()


def void_factor_state_many(users: list[User]) -> None:
    """The same for many users at once (bulk actions)."""
    ids = [u.pk for u in users]
    PendingSignIn.objects.filter(user_id__in=ids).delete()
    RememberedDevice.objects.filter(user_id__in=ids).delete()
