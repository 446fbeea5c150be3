"""'Does this sign-in owe a code?' as one table: method, release, SSO, amr, device."""

from __future__ import annotations

import pytest

from deskgate.signin.policy import owes_code

ROWS = [
    # release, method, via_sso, sso_requires_idp_mfa, idp_did_mfa, remembered, owes
    ("25.4", "off", False, False, False, False, False),
    ("25.4", "email", False, False, False, False, True),
    ("25.4", "sms", False, False, False, False, True),
    ("26.1", "sms", False, False, False, False, True),
    ("11.8", "email", False, False, False, False, False),
    ("11.8", "sms", True, True, False, False, False),
    ("25.4", "email", False, False, False, True, False),  # remembered device
    ("25.4", "sms", True, False, False, False, False),  # R6: SSO never asks
    ("25.4", "sms", True, False, True, False, False),
    ("25.4", "sms", True, True, False, False, True),  # client wants provider MFA: none
    ("25.4", "sms", True, True, True, False, False),  # provider did MFA
    ("25.4", "email", True, True, False, True, True),  # devices play no part in SSO
    ("25.4", "off", True, True, False, False, False),
]


@pytest.mark.parametrize(
    ("release", "method", "via_sso", "requires", "idp_mfa", "remembered", "owes"),
    ROWS,
    ids=[
        f"{r[0]}-{r[1]}-sso{int(r[2])}-req{int(r[3])}-amr{int(r[4])}-dev{int(r[5])}" for r in ROWS
    ],
)
def test_owes_code(
    user_factory, tenant_factory, release, method, via_sso, requires, idp_mfa, remembered, owes
) -> None:
    client = tenant_factory(release=release)
    user = user_factory("agent", "off", client=client)
    user.mfa_method = method  # the policy reads the fields; no write needed
    assert (
        owes_code(
            user,
            via_sso=via_sso,
            sso_requires_idp_mfa=requires,
            idp_did_mfa=idp_mfa,
            remembered_device=remembered,
        )
        is owes
    )


STRONG_ROWS = [
    # release, method, has a strong factor (app or passkey), owes
    ("25.4", "off", True, True),  # MFA Off, but a passkey or an app: it is owed
    ("25.4", "off", False, False),
    ("25.4", "email", True, True),
    ("11.8", "off", True, False),  # R1: no MFA before 25.x, whatever is set up
]


@pytest.mark.parametrize(("release", "method", "strong", "owes"), STRONG_ROWS)
def test_a_strong_factor_is_owed_like_a_code(
    user_factory, tenant_factory, release, method, strong, owes
) -> None:
    user = user_factory("agent", "off", client=tenant_factory(release=release))
    user.mfa_method = method
    assert owes_code(user, has_strong_factor=strong) is owes
