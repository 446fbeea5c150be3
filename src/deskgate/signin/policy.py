"""One answer to "does this sign-in owe a code?" (R1, R2, R6, R7), and one to "must this
user use a strong factor?" (the client's factor policy, issue 14)."""

from __future__ import annotations

from deskgate.accounts.models import User


def owes_code(
    user: User,
    *,
    via_sso: bool = False,
    sso_requires_idp_mfa: bool = False,
    idp_did_mfa: bool = False,
    remembered_device: bool = False,
    has_strong_factor: bool = False,
) -> bool:
    """True when this sign-in must pass the code step before it gets a session.

    - No MFA for clients before release 25.x (R1), whatever the user has set up; nor for a
      user whose method is Off and who has no strong factor (an authenticator app or a
      passkey): a user with one owes it.
    - A sign-in through the client's SSO never owes a code (R6), unless the client asks
      for our code whenever the provider does not say it did MFA itself.
    - Outside SSO, a device the user chose to remember within 30 days skips the code;
      remembered devices play no part in SSO.
    """
    if not user.client.supports_mfa:
        return False
    if not (user.mfa_applies or has_strong_factor):
        return False
    if via_sso:
        return sso_requires_idp_mfa and not idp_did_mfa
    return not remembered_device


def strong_factor_required(user: User) -> bool:
    """True when the client's settings require the user's level to sign in with an
    authenticator app or a passkey (`Client.strong_factor_levels`). Never before release
    25.x (R1): there is no second factor there at all."""
    client = user.client
    return client.supports_mfa and user.level in client.strong_factor_levels.split()


def owes_enrolment(user: User, *, has_strong_factor: bool, via_link: bool = False) -> bool:
    """True when this sign-in must set up a strong factor before it gets a session: the
    policy requires one and the user has none, or they came through an enrolment link
    (which exists to set one up)."""
    if has_strong_factor or not user.client.supports_mfa:
        return False
    return via_link or strong_factor_required(user)
