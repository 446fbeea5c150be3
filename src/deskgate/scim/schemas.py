"""The SCIM models Deskgate speaks: the core User with the enterprise extension and its own.

Parsing, PATCH paths and serialisation are scim2-models'; this module names the resource
type and the attributes Deskgate keeps, so that discovery describes exactly those.
"""

from __future__ import annotations

from scim2_models import URN, EnterpriseUser, Extension, User


class DeskgateUser(Extension):
    """Deskgate's extension: the user's level and MFA method (R2)."""

    __schema__ = URN("urn:deskgate:params:scim:schemas:extension:deskgate:2.0:User")

    level: str | None = None
    """admin, manager, team_leader or agent (a new user is an agent unless said)."""

    mfa_method: str | None = None
    """off, email or sms: where the user's sign-in code goes."""


ScimUser = User[EnterpriseUser | DeskgateUser]

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = str(EnterpriseUser.__schema__)
DESKGATE = str(DeskgateUser.__schema__)

# The attributes each schema supports; the others are refused by discovery's silence and
# ignored on input only where RFC 7643 says the service provider may (read-only ones).
SUPPORTED: dict[str, frozenset[str]] = {
    CORE: frozenset(
        {"userName", "name", "displayName", "active", "emails", "phoneNumbers", "externalId"}
    ),
    ENTERPRISE: frozenset({"employeeNumber", "department"}),
    DESKGATE: frozenset({"level", "mfaMethod"}),
}
SUPPORTED_NAME_PARTS = frozenset({"formatted", "givenName", "familyName"})
