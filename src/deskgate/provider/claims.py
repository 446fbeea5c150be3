"""The claims apps receive, and the authentication levels (`acr`) they may ask for.

docs/oidc.md is the relying party's page for all of this; keep the two in step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from deskgate.accounts.models import User

ACR_ONE_FACTOR = "urn:deskgate:acr:1fa"
ACR_MFA = "urn:deskgate:acr:mfa"
# The PAPE policy URI some libraries send for "multi-factor"; the same as ACR_MFA here.
ACR_MFA_ALIASES = frozenset(
    {ACR_MFA, "http://schemas.openid.net/pape/policies/2007/06/multi-factor"}
)
ACR_VALUES = [ACR_ONE_FACTOR, ACR_MFA]

CLIENT_CLAIM = "deskgate_client"  # {"id": ..., "slug": ..., "name": ...}
LEVEL_CLAIM = "deskgate_level"  # admin | manager | team_leader | agent

# Which scope releases which claim (UserInfo and the ID token alike).
CLAIM_SCOPES = {
    "name": "profile",
    "preferred_username": "profile",
    "updated_at": "profile",
    "email": "email",
    "email_verified": "email",
    CLIENT_CLAIM: "deskgate",
    LEVEL_CLAIM: "deskgate",
}
SCOPES = {
    "openid": "Sign you in",
    "profile": "Your name and user name",
    "email": "Your Email address",
    "deskgate": "Your company and your role in it",
}


def acr_for(amr: Iterable[str]) -> str:
    return ACR_MFA if "mfa" in set(amr) else ACR_ONE_FACTOR


def user_claims(user: User) -> dict[str, Any]:
    """The claims about the person, before the scopes filter them."""
    client = user.client
    return {
        "sub": str(user.subject),
        "name": user.full_name,
        "preferred_username": user.username,
        "updated_at": int(user.updated_at.timestamp()),
        "email": user.email,
        "email_verified": user.email_verified,
        CLIENT_CLAIM: {"id": client.pk, "slug": client.slug, "name": client.name},
        LEVEL_CLAIM: user.level,
    }


def released(claims: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, Any]:
    granted = set(scopes)
    return {
        name: value
        for name, value in claims.items()
        if name not in CLAIM_SCOPES or CLAIM_SCOPES[name] in granted
    }


def wants_mfa(acr_values: str, claims_request: str | Mapping[str, Any] | None) -> bool:
    """Whether the app asks for two factors: `acr_values`, or a claims request for an
    essential `acr` among the MFA values (OpenID Connect Core 5.5.1.1)."""
    if ACR_MFA_ALIASES & set(acr_values.split()):
        return True
    request: Any = claims_request
    if isinstance(request, str):
        try:
            request = json.loads(request) if request else {}
        except ValueError:
            return False
    if not isinstance(request, Mapping):
        return False
    acr = (
        (request.get("id_token") or {}).get("acr")
        if isinstance(request.get("id_token"), Mapping)
        else None
    )
    if not isinstance(acr, Mapping) or not acr.get("essential"):
        return False
    values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
    return bool(ACR_MFA_ALIASES & {str(v) for v in values})
