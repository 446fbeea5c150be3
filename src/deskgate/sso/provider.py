"""Talking to an OpenID Connect provider: discovery, the authorization request, the token
exchange, the ID token checks and UserInfo. Nothing here knows about users or pages.

Every request to the provider goes through `fetch` (https, public addresses only, one
deadline, no redirects). Authlib builds the authorization URL (PKCE S256, `state`,
`nonce`); joserfc, the JOSE library Authlib now builds on, checks the ID token.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from authlib.integrations.requests_client import OAuth2Session
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from deskgate.sso.app_settings import app_settings
from deskgate.sso.fetch import TRANSIENT, Answer, FetchError, fetch

SCOPE = "openid email profile"
UNAVAILABLE = "SSO is unavailable right now, try again in a minute."
T = TypeVar("T")


class ProviderError(Exception):
    """Something about the provider is wrong; the message says what, in plain words."""


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks_uri: str
    userinfo: str = ""  # optional in discovery (OpenID Connect Discovery 3)


@dataclass(frozen=True)
class AuthRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def normalise_issuer(issuer: str) -> str:
    return issuer.strip().rstrip("/")


CACHE_SECONDS = 600
STALE_SECONDS = 86400  # the last good answer, for while another process asks again


def _cache_key(kind: str, url: str) -> str:
    return f"oidc:v2:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _shared_lookup(kind: str, url: str, load: Callable[[str], T], *, fresh: bool) -> T:
    """`load(url)` through the cache every process shares: a success is kept for
    CACHE_SECONDS, a failure for `failure_seconds` (visitors then get UNAVAILABLE at once),
    and one process at a time asks the provider (a lease). The others wait a moment for
    its answer, then use the last good one (kept a day) or answer UNAVAILABLE: never a
    thread per visitor waiting on a dead provider. `fresh` (an admin checking the
    settings) skips both memories but not the lease."""
    key = _cache_key(kind, url)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]  # what load() answered before
        if cache.get(f"{key}:failed"):
            raise ProviderError(UNAVAILABLE)
    lease = f"{key}:lease"
    if not cache.add(lease, 1, timeout=int(app_settings.SSO.fetch_seconds) + 5):
        return _answer_of_another(key)  # type: ignore[no-any-return]  # load()'s, as above
    try:
        value = load(url)
    except ProviderError:
        cache.set(f"{key}:failed", 1, app_settings.SSO.failure_seconds)
        raise
    finally:
        cache.delete(lease)
    cache.set(key, value, CACHE_SECONDS)
    cache.set(f"{key}:stale", value, STALE_SECONDS)
    cache.delete(f"{key}:failed")
    return value


def _answer_of_another(key: str) -> Any:
    """Another process is asking the provider: its answer if it comes within
    `lease_wait_seconds`, else the last good answer, else UNAVAILABLE."""
    until = time.monotonic() + app_settings.SSO.lease_wait_seconds
    while time.monotonic() < until:
        time.sleep(0.05)
        cached = cache.get(key)
        if cached is not None:
            return cached
        if cache.get(f"{key}:failed"):
            raise ProviderError(UNAVAILABLE)
    stale = cache.get(f"{key}:stale")
    if stale is not None:
        return stale
    raise ProviderError(UNAVAILABLE)


def mark_unavailable(issuer: str) -> None:
    """The provider stopped answering mid-sign-in: new sign-ins fail fast for a while."""
    key = _cache_key("discovery", normalise_issuer(issuer))
    cache.set(f"{key}:failed", 1, app_settings.SSO.failure_seconds)


def discover(issuer: str, *, fresh: bool = False) -> Endpoints:
    """The provider's endpoints, from cache or its /.well-known/openid-configuration."""
    return _shared_lookup("discovery", normalise_issuer(issuer), _discover, fresh=fresh)


def _configuration_error(reason: str) -> ProviderError:
    return ProviderError(f"Could not read the provider's configuration: {reason}.")


def _discover(issuer: str) -> Endpoints:
    """Read the provider's /.well-known/openid-configuration and check it is the issuer's."""
    if "://" not in issuer:
        raise ProviderError("The issuer URL must start with https://.")
    try:
        answer = fetch(f"{issuer}/.well-known/openid-configuration")
    except FetchError as exc:
        raise _configuration_error(exc.reason.value) from None
    doc = _json_object(answer)
    if answer.status != 200 or doc is None:
        raise _configuration_error("not a discovery document")
    return endpoints_from(doc, issuer)


def _json_object(answer: Answer) -> dict[str, Any] | None:
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


# Back-channel hosts of well-known providers that differ from their issuer's host.
KNOWN_ENDPOINT_HOSTS = {
    "accounts.google.com": {
        "oauth2.googleapis.com",  # token
        "openidconnect.googleapis.com",  # userinfo
        "www.googleapis.com",  # jwks_uri
    },
    "login.microsoftonline.com": {"graph.microsoft.com"},  # userinfo
}
_FIELDS = {
    "authorization": ("authorization_endpoint", "authorization endpoint"),
    "token": ("token_endpoint", "token endpoint"),
    "jwks_uri": ("jwks_uri", "key set (jwks_uri)"),
    "userinfo": ("userinfo_endpoint", "userinfo endpoint"),
}


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.scheme not in {"https", "http"}:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def endpoint_problem(issuer: str, field: str, url: str) -> str | None:
    """Why `url` may not be the provider's `field` endpoint, or None.

    The authorization endpoint, where visitors are sent, shares the issuer's origin. The
    back-channel endpoints (token, which receives the secret; jwks_uri; userinfo) are on
    the issuer's origin or https on a host known for that issuer (Google, Entra ID).
    Hosts the operator lists in DESKGATE_SSO_ENDPOINT_HOSTS are allowed for any of them.
    """
    name = _FIELDS[field][1]
    own, there = _origin(issuer), _origin(url)
    if own is None or there is None:
        return f"the {name} is not a valid URL"
    if there == own:
        return None
    scheme, host, port = there
    if scheme != "https" or port != 443:
        return f"the {name} must be an https address on the issuer's host"
    approved = set(app_settings.SSO.endpoint_hosts)
    if field != "authorization":
        approved |= KNOWN_ENDPOINT_HOSTS.get(own[1], set())
    if host in approved:
        return None
    return f"the {name} is not on the issuer's host"


def endpoints_from(doc: dict[str, Any], issuer: str) -> Endpoints:
    """The endpoints of a discovery document, once they are checked to be the issuer's."""
    required = ("issuer", *(key for field, (key, _) in _FIELDS.items() if field != "userinfo"))
    if not all(isinstance(doc.get(key), str) and doc[key] for key in required):
        raise _configuration_error("not a discovery document")
    said = normalise_issuer(str(doc["issuer"]))
    if said != issuer:
        raise _configuration_error(
            "the issuer it names is not this URL; use the issuer URL exactly as the "
            "provider gives it"
        )
    urls: dict[str, str] = {}
    for field, (key, _name) in _FIELDS.items():
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            continue  # userinfo: optional in discovery
        problem = endpoint_problem(issuer, field, value)
        if problem:
            raise _configuration_error(problem)
        urls[field] = value
    return Endpoints(issuer=said, **urls)


def _checked(endpoints: Endpoints, field: str) -> str:
    """The endpoint's URL, checked again at use: the operator's list may have changed."""
    url = str(getattr(endpoints, field))
    problem = endpoint_problem(endpoints.issuer, field, url)
    if problem:
        raise ProviderError(f"The provider's configuration is not allowed: {problem}.")
    return url


def _call(
    what: str, endpoints: Endpoints, url: str, **kwargs: Any
) -> tuple[Answer, dict[str, Any] | None]:
    try:
        answer = fetch(url, **kwargs)
    except FetchError as exc:
        if exc.reason in TRANSIENT:
            mark_unavailable(endpoints.issuer)
        raise ProviderError(f"Could not reach the provider's {what}: {exc.reason.value}.") from None
    return answer, _json_object(answer)


def _error_code(doc: dict[str, Any] | None) -> str:
    """The OAuth error code of an answer, if it is one (RFC 6749 5.2: ASCII, no spaces)."""
    code = str((doc or {}).get("error", ""))
    return code if re.fullmatch(r"[a-z_]{1,60}", code) else ""


def check_client_credentials(endpoints: Endpoints, client_id: str, secret: str) -> None:
    """Ask the token endpoint about a code that cannot exist: a provider that knows the
    client and its secret answers invalid_grant; a wrong id or secret, invalid_client."""
    url = _checked(endpoints, "token")
    answer, doc = _call(
        "token endpoint",
        endpoints,
        url,
        form={
            "grant_type": "authorization_code",
            "code": "deskgate-connection-test",
            "redirect_uri": "https://invalid.invalid/",
            "code_verifier": secrets.token_urlsafe(48),
        },
        basic_auth=(client_id, secret),
    )
    if _error_code(doc) == "invalid_client" or answer.status == 401:
        raise ProviderError(
            "The provider refused the client id or the secret (invalid_client). Copy them "
            "again from the provider's app registration."
        )


def authorization_request(endpoints: Endpoints, client_id: str, redirect_uri: str) -> AuthRequest:
    url = _checked(endpoints, "authorization")  # visitors are sent there: never off-site
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    session = OAuth2Session(
        client_id, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    url, _ = session.create_authorization_url(url, state=state, nonce=nonce, code_verifier=verifier)
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
    """Trade the authorization code for tokens; answer the checked ID token's claims, with
    the email from UserInfo when the ID token does not carry it (OpenID Connect Core 5.4)."""
    url = _checked(endpoints, "token")
    answer, token = _call(
        "token endpoint",
        endpoints,
        url,
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
        basic_auth=(client_id, secret),
    )
    if answer.status != 200 or token is None or _error_code(token):
        error = _error_code(token) or "no token"
        raise ProviderError(f"The provider refused the sign-in ({error}).")
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise ProviderError("The provider sent no ID token.")
    claims = validate_id_token(endpoints, id_token, client_id=client_id, nonce=nonce)
    access_token = token.get("access_token")
    if needs_userinfo(claims) and endpoints.userinfo and isinstance(access_token, str):
        userinfo = fetch_userinfo(endpoints, access_token, subject=str(claims["sub"]))
        claims = with_userinfo(claims, userinfo)
    return claims


_VERIFICATION = ("email_verified", "xms_edov")


def needs_userinfo(claims: dict[str, Any]) -> bool:
    """The ID token lacks the email, or says nothing of whether it is verified."""
    return not claims.get("email") or not any(key in claims for key in _VERIFICATION)


def with_userinfo(claims: dict[str, Any], userinfo: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims, with the email (and its verification, which travels with it)
    and name from UserInfo when UserInfo has an email. How the person signed in (amr,
    acr) stays the ID token's to say."""
    merged = dict(claims)
    if userinfo.get("email"):
        for key in ("email", *_VERIFICATION):
            merged.pop(key, None)
            if key in userinfo:
                merged[key] = userinfo[key]
    if "name" in userinfo and "name" not in merged:
        merged["name"] = userinfo["name"]
    return merged


def fetch_userinfo(endpoints: Endpoints, access_token: str, *, subject: str) -> dict[str, Any]:
    """The UserInfo answer for the ID token's subject (OpenID Connect Core 5.3)."""
    url = _checked(endpoints, "userinfo")
    answer, doc = _call("userinfo endpoint", endpoints, url, bearer=access_token)
    if answer.status != 200 or doc is None:
        raise ProviderError("The provider's userinfo endpoint did not answer with the claims.")
    # 5.3.4: the sub in the UserInfo answer must be the ID token's, or it is not used.
    if doc.get("sub") != subject:
        raise ProviderError("The provider's userinfo answer is for another subject.")
    return doc


ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]  # what Entra ID, Google and others sign with


def _keys(endpoints: Endpoints, *, fresh: bool) -> KeySet:
    url = _checked(endpoints, "jwks_uri")
    jwks = _shared_lookup("jwks", url, lambda u: _load_keys(endpoints, u), fresh=fresh)
    return KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # JSON of the JWKS shape


def _load_keys(endpoints: Endpoints, url: str) -> dict[str, Any]:
    answer, doc = _call("key set", endpoints, url)
    if answer.status != 200 or doc is None or not isinstance(doc.get("keys"), list):
        raise ProviderError("The provider's key set (jwks_uri) is not a key set.")
    return doc


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
    except (JoseError, ValueError, TypeError) as exc:
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
