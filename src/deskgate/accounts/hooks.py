"""What the accounts actions ask of the sign-in app, without importing it.

accounts is the lowest layer: signin, sso and the pages import it, never the other way.
Yet some of its actions change state the sign-in app owns:

- `factor_changed(users)`: the users' MFA method, Email or Work phone (the MFA
  destination) or password changed. Their pending codes and remembered devices are void,
  and a sign-in in progress starts over. Called by `update_user` and the one-field
  actions, `change_own_contact`, `set_password` and `bulk_change_mfa_method`.
- `unlock(user, by=...)`: end the user's sign-in lock early (R7); answer whether there
  was one (`unlock_user`).
- `revoke_devices(user, by=...)`: forget the user's remembered devices; answer how many
  (`revoke_devices`, `sign_out_everywhere`).
- `forget_device(user, device_id, by=...)`: forget one remembered device of the user;
  answer whether there was one (`forget_own_device`).

The sign-in app registers its answers once, at start-up (`SigninConfig.ready`). Each hook
runs synchronously, inside the transaction of the action that calls it, exactly where the
action used to call the sign-in app itself: the codes are voided together with the write,
or not at all.

Why a registry rather than a Django signal: these must happen. A signal nobody listens to
does nothing, silently, so a changed MFA destination would leave the old codes and
devices valid; a hook nobody registered raises `ImproperlyConfigured` instead. And two of
them answer a value, which a signal's receivers do not do cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import User


class FactorChanged(Protocol):
    def __call__(self, users: list[User], /) -> None: ...


class Unlock(Protocol):
    def __call__(self, user: User, *, by: Actor) -> bool: ...


class RevokeDevices(Protocol):
    def __call__(self, user: User, *, by: Actor) -> int: ...


class ForgetDevice(Protocol):
    def __call__(self, user: User, device_id: int, /, *, by: Actor) -> bool: ...


@dataclass(frozen=True)
class SignInHooks:
    """The sign-in app's answers to the accounts actions (see the module's docstring)."""

    factor_changed: FactorChanged
    unlock: Unlock
    revoke_devices: RevokeDevices
    forget_device: ForgetDevice


_registered: SignInHooks | None = None


def register(hooks: SignInHooks) -> None:
    """Install the sign-in app's hooks (once, from its AppConfig.ready)."""
    global _registered  # noqa: PLW0603  # one registry per process, set at start-up
    _registered = hooks


def sign_in() -> SignInHooks:
    """The registered hooks; raises when the sign-in app has not registered any."""
    if _registered is None:
        raise ImproperlyConfigured(
            "deskgate.signin registers the accounts hooks in SigninConfig.ready(); "
            "is it in INSTALLED_APPS?"
        )
    return _registered
