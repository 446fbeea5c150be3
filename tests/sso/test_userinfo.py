"""Claims from UserInfo (OpenID Connect Core 5.3, 5.4): a conforming provider may send the
email only there. The provider is a scripted one on loopback (tests/harness/oidc_fake.py)
whose ID tokens and UserInfo answers each test sets."""

from __future__ import annotations

from typing import Any

import pytest

from deskgate.sso import provider
from tests.harness.oidc_fake import ScriptedProvider

SECRET = "test-secret-0123456789"


@pytest.fixture
def idp() -> Any:
    with ScriptedProvider() as server:
        server.nonce = "n-0123"
        yield server


def sign_in(idp: ScriptedProvider) -> dict[str, Any]:
    endpoints = provider.discover(idp.issuer, fresh=True)
    return provider.exchange_code(
        endpoints,
        client_id=idp.client_id,
        secret=SECRET,
        redirect_uri="http://localhost:8000/signin/sso/callback/",
        code="a-code",
        code_verifier="v" * 43,
        nonce=idp.nonce,
    )


def test_the_email_is_taken_from_userinfo_when_the_id_token_lacks_it(db, idp) -> None:
    idp.id_token_claims = {"sub": "sub-anna", "amr": ["pwd"]}
    idp.userinfo = {"sub": "sub-anna", "email": "anna@northwind.example", "email_verified": True}
    claims = sign_in(idp)
    assert claims["email"] == "anna@northwind.example"
    assert provider.email_verified(claims) is True
    assert claims["sub"] == "sub-anna"
    assert ("GET", "/userinfo") in [(m, p) for m, p, _h in idp.requests]


def test_userinfo_for_another_subject_is_refused(db, idp) -> None:
    idp.id_token_claims = {"sub": "sub-anna"}
    idp.userinfo = {"sub": "sub-mallory", "email": "anna@northwind.example", "email_verified": True}
    with pytest.raises(provider.ProviderError, match="another subject"):
        sign_in(idp)


def test_userinfo_is_not_asked_when_the_id_token_has_email_and_its_verification(db, idp) -> None:
    idp.id_token_claims = {"sub": "sub-anna", "email": "anna@x.example", "email_verified": False}
    idp.userinfo = {"sub": "sub-anna", "email": "anna@x.example", "email_verified": True}
    claims = sign_in(idp)
    assert provider.email_verified(claims) is False  # the ID token's word for its email
    assert "/userinfo" not in idp.paths()


@pytest.mark.parametrize(
    ("id_token", "userinfo", "email", "verified"),
    [
        # The verification travels with the email it is about.
        ({"email_verified": True}, {"email": "a@x.example"}, "a@x.example", False),
        ({}, {"email": "a@x.example", "email_verified": False}, "a@x.example", False),
        ({}, {"email": "a@x.example", "email_verified": True}, "a@x.example", True),
        # An email without a word on its verification: UserInfo may have both.
        (
            {"email": "a@x.example"},
            {"email": "b@x.example", "email_verified": True},
            "b@x.example",
            True,
        ),
        ({"email": "a@x.example"}, {"name": "A"}, "a@x.example", False),
        # Nothing anywhere.
        ({}, {"name": "A"}, "", False),
    ],
)
def test_email_verified_comes_from_where_the_email_came_from(
    db, idp, id_token, userinfo, email, verified
) -> None:
    idp.id_token_claims = {"sub": "sub-anna", **id_token}
    idp.userinfo = {"sub": "sub-anna", **userinfo}
    claims = sign_in(idp)
    assert claims.get("email", "") == email
    assert provider.email_verified(claims) is verified


def test_userinfo_cannot_claim_mfa(db, idp) -> None:
    idp.id_token_claims = {"sub": "sub-anna", "amr": ["pwd"]}
    idp.userinfo = {
        "sub": "sub-anna",
        "email": "a@x.example",
        "email_verified": True,
        "amr": ["mfa"],
        "acr": "urn:high",
    }
    claims = sign_in(idp)
    assert claims["amr"] == ["pwd"] and "acr" not in claims
    assert provider.did_mfa(claims) is False


def test_a_provider_without_userinfo_leaves_the_claims_as_they_are(db, idp) -> None:
    del idp.discovery["userinfo_endpoint"]
    idp.id_token_claims = {"sub": "sub-anna"}
    claims = sign_in(idp)
    assert "email" not in claims
    assert "/userinfo" not in idp.paths()
