"""What an app reads before it signs anyone in: the discovery document and the JWKS."""

from __future__ import annotations

from joserfc import jws

from deskgate.provider import claims
from tests.provider.conftest import App, issuer


def test_the_discovery_document_describes_a_code_flow_provider_with_pkce(app: App) -> None:
    meta = app.metadata
    base = issuer()
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == f"{base}/o/authorize/"
    assert meta["token_endpoint"] == f"{base}/o/token/"
    assert meta["userinfo_endpoint"] == f"{base}/o/userinfo/"
    assert meta["jwks_uri"] == f"{base}/o/jwks/"
    assert meta["revocation_endpoint"] == f"{base}/o/revoke_token/"
    assert meta["introspection_endpoint"] == f"{base}/o/introspect/"
    assert meta["end_session_endpoint"] == f"{base}/o/logout/"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["response_modes_supported"] == ["query"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert meta["acr_values_supported"] == [claims.ACR_ONE_FACTOR, claims.ACR_MFA]
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["subject_types_supported"] == ["public"]
    for name in ("sub", "amr", "acr", "sid", "auth_time", "email_verified"):
        assert name in meta["claims_supported"]
    assert {claims.CLIENT_CLAIM, claims.LEVEL_CLAIM} <= set(meta["claims_supported"])


def test_the_jwks_publishes_the_key_that_signs_id_tokens(app: App, browser) -> None:
    authorized = app.authorize(browser)
    assert authorized.params["iss"] == issuer()  # RFC 9207: the answer names its issuer
    token = app.exchange(authorized)
    header = jws.extract_compact(token["id_token"].encode()).protected
    assert header["alg"] == "RS256"
    published = app.jwks()
    kids = [key.kid for key in published.keys]
    assert header["kid"] in kids
    for key in published.keys:
        assert key.key_type == "RSA" and not key.is_private  # public halves only
    assert app.verify(token["id_token"], nonce=authorized.nonce)["sub"]
