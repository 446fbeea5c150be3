"""The claim rules: verified email (Google, Entra ID), MFA from amr, the stored secret."""

from __future__ import annotations

import pytest

from deskgate.sso import provider, sealing


@pytest.mark.parametrize(
    ("claims", "verified"),
    [
        ({"email_verified": True}, True),
        ({"email_verified": False}, False),
        ({"email_verified": "true"}, False),  # a string is not the boolean the spec says
        ({}, False),
        ({"xms_edov": True}, True),  # Entra ID: email domain owner verified
        ({"xms_edov": "1"}, True),
        ({"xms_edov": False}, False),
    ],
)
def test_email_verified(claims, verified) -> None:
    assert provider.email_verified(claims) is verified


@pytest.mark.parametrize(
    ("amr", "mfa"),
    [
        (None, False),
        ([], False),
        (["pwd"], False),
        (["mfa"], True),
        (["pwd", "mfa"], True),
        (["pwd", "otp"], True),
        (["pwd", "sms"], True),
        (["otp"], False),
        (["fpt", "hwk"], True),
        ("mfa", True),
        (["pwd", "pin"], False),
    ],
)
def test_did_mfa_reads_amr(amr, mfa) -> None:
    claims = {} if amr is None else {"amr": amr}
    assert provider.did_mfa(claims) is mfa


def test_the_secret_is_stored_encrypted(settings) -> None:
    token = sealing.encrypt("s3cret-value")
    assert "s3cret-value" not in token
    assert sealing.decrypt(token) == "s3cret-value"
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-0123456789"
    assert sealing.decrypt(token) is None


@pytest.mark.parametrize(
    ("issuer", "normalised"),
    [
        ("https://accounts.google.com/", "https://accounts.google.com"),
        (" https://login.microsoftonline.com/t/v2.0 ", "https://login.microsoftonline.com/t/v2.0"),
    ],
)
def test_issuer_normalised(issuer, normalised) -> None:
    assert provider.normalise_issuer(issuer) == normalised


def test_discovery_of_an_unreachable_issuer_says_so(db) -> None:
    from tests.harness.net import free_port

    with pytest.raises(
        provider.ProviderError,
        match="Could not read the provider's configuration: could not connect",
    ):
        provider.discover(f"http://127.0.0.1:{free_port()}")


def test_an_issuer_must_be_a_url(db) -> None:
    with pytest.raises(provider.ProviderError, match="must start with https://"):
        provider.discover("accounts.google.com")
