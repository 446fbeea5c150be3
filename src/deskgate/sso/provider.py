"""Talking to an OpenID Connect provider: discovery, the authorization request, the token
exchange and the ID token checks. Nothing here knows about users or pages.

Built on Authlib (PKCE S256, `state`, `nonce`, the token exchange) and joserfc, the JOSE
library Authlib now builds on, for the ID token's signature and claims.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

TIMEOUT = 5  # seconds for every call to the provider
SCOPE = "openid email profile"


class ProviderError(Exception):
    """Something about the provider is wrong; the message says what, in plain words."""


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks_uri: str


@dataclass(frozen=True)
class AuthRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def normalise_issuer(issuer: str) -> str:
    return issuer.strip().rstrip("/")


CACHE_SECONDS = 600


def _cache_key(kind: str, url: str) -> str:
    return f"oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def discover(issuer: str, *, fresh: bool = False) -> Endpoints:
    """The provider's endpoints, from cache or its /.well-known/openid-configuration."""
    key = _cache_key("discovery", normalise_issuer(issuer))
    cached = None if fresh else cache.get(key)
    if isinstance(cached, Endpoints):
        return cached
    endpoints = _discover(issuer)
    cache.set(key, endpoints, CACHE_SECONDS)
    return endpoints


def _discover(issuer: str) -> Endpoints:
    """Read the provider's /.well-known/openid-configuration and check it is the issuer."""
    issuer = normalise_issuer(issuer)
    if not issuer.startswith(("https://", "http://")):
        raise ProviderError("The issuer URL must start with https://.")
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ProviderError(
            f"Could not reach the provider at {issuer} ({type(exc).__name__}). Check the "
            "issuer URL and that this server can reach it."
        ) from None
    if response.status_code != 200:
        raise ProviderError(
            f"{url} answered HTTP {response.status_code}: this is not the issuer URL of an "
            "OpenID Connect provider."
        )
    try:
        doc = response.json()
    except ValueError:
        raise ProviderError(f"{url} did not answer with an OpenID Connect configuration.") from None
    said = normalise_issuer(str(doc.get("issuer", "")))
    if said != issuer:
        raise ProviderError(
            f"The provider says its issuer is {said or '(nothing)'}, not {issuer}. Use the "
            "issuer URL exactly as the provider gives it."
        )
    try:
        return Endpoints(
            issuer=said,
            authorization=str(doc["authorization_endpoint"]),
            token=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
        )
    except KeyError as missing:
        raise ProviderError(f"The provider's configuration lacks {missing}.") from None


def check_client_credentials(endpoints: Endpoints, client_id: str, secret: str) -> None:
    """Ask the token endpoint about a code that cannot exist: a provider that knows the
    client and its secret answers invalid_grant; a wrong id or secret, invalid_client."""
    try:
        response = requests.post(
            endpoints.token,
            data={
                "grant_type": "authorization_code",
                "code": "deskgate-connection-test",
                "redirect_uri": "https://invalid.invalid/",
                "code_verifier": secrets.token_urlsafe(48),
            },
            auth=(client_id, secret),
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ProviderError(
            f"Could not reach the provider's token endpoint ({type(exc).__name__})."
        ) from None
    try:
        error = str(response.json().get("error", ""))
    except ValueError:
        error = ""
    if error == "invalid_client" or response.status_code == 401:
        raise ProviderError(
            "The provider refused the client id or the secret (invalid_client). Copy them "
            "again from the provider's app registration."
        )


def authorization_request(endpoints: Endpoints, client_id: str, redirect_uri: str) -> AuthRequest:
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    session = OAuth2Session(
        client_id, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    url, _ = session.create_authorization_url(
        endpoints.authorization, state=state, nonce=nonce, code_verifier=verifier
    )
    return AuthRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def exchange_code(
    endpoints: Endpoints,
    *,
    client_id: str,
    secret: str,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    nonce: str,
) -> dict[str, Any]:
    """Trade the authorization code for tokens and answer the checked ID token's claims."""
    session = OAuth2Session(client_id, secret, redirect_uri=redirect_uri)
    try:
        token = session.fetch_token(
            endpoints.token, code=code, code_verifier=code_verifier, timeout=TIMEOUT
        )
    except OAuth2Error as exc:
        raise ProviderError(f"The provider refused the sign-in ({exc.error}).") from None
    except requests.RequestException as exc:
        raise ProviderError(
            f"Could not reach the provider's token endpoint ({type(exc).__name__})."
        ) from None
    id_token = token.get("id_token")
    if not id_token:
        raise ProviderError("The provider sent no ID token.")
    return validate_id_token(endpoints, id_token, client_id=client_id, nonce=nonce)


ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]  # what Entra ID, Google and others sign with


def _keys(endpoints: Endpoints, *, fresh: bool) -> KeySet:
    key = _cache_key("jwks", endpoints.jwks_uri)
    jwks = None if fresh else cache.get(key)
    if not isinstance(jwks, dict):
        jwks = requests.get(endpoints.jwks_uri, timeout=TIMEOUT).json()
        cache.set(key, jwks, CACHE_SECONDS)
    return KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # JSON of the JWKS shape


def _decode(endpoints: Endpoints, id_token: str) -> jwt.Token:
    try:
        return jwt.decode(id_token, _keys(endpoints, fresh=False), algorithms=ID_TOKEN_ALGORITHMS)
    except JoseError:
        # The provider may have rotated its keys since they were cached: fetch them once more.
        return jwt.decode(id_token, _keys(endpoints, fresh=True), algorithms=ID_TOKEN_ALGORITHMS)


def validate_id_token(
    endpoints: Endpoints, id_token: str, *, client_id: str, nonce: str
) -> dict[str, Any]:
    """Check the ID token's signature against the provider's keys, then iss, aud, exp,
    iat, sub and nonce (OpenID Connect Core 3.1.3.7)."""
    registry = jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": endpoints.issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        token = _decode(endpoints, id_token)
        registry.validate(token.claims)
    except (JoseError, ValueError, TypeError, requests.RequestException) as exc:
        raise ProviderError(f"The provider's ID token did not check out ({exc}).") from None
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise ProviderError("The provider's ID token did not check out (azp).")
    return claims


def email_verified(claims: dict[str, Any]) -> bool:
    """Google and most providers send email_verified; Entra ID sends xms_edov instead."""
    return claims.get("email_verified") is True or claims.get("xms_edov") in (True, "1", 1)


_KNOWLEDGE = {"pwd", "pin", "kba"}
_POSSESSION = {"otp", "sms", "tel", "hwk", "swk", "pop", "sc"}
_INHERENCE = {"fpt", "face", "iris", "retina", "vbm", "user"}


def did_mfa(claims: dict[str, Any]) -> bool:
    """The provider says the person passed two kinds of factor (RFC 8176 `amr` values).

    With no `amr`, the sign-in counts as single-factor (ASVS 6.8.4: assume the weakest).
    """
    amr = claims.get("amr") or []
    values = {str(v) for v in ([amr] if isinstance(amr, str) else amr)}
    if "mfa" in values:
        return True
    kinds = sum(bool(values & group) for group in (_KNOWLEDGE, _POSSESSION, _INHERENCE))
    return kinds >= 2
