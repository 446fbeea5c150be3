"""A Deskgate user as a SCIM User, and a SCIM User as the action layer's `UserInput`.

| SCIM                                   | Deskgate                              |
|----------------------------------------|---------------------------------------|
| id                                     | User.subject (UUID)                   |
| userName                               | User name                             |
| name.formatted, displayName            | Full name (givenName familyName else) |
| emails[type eq "work"] (or primary...) | Email                                 |
| phoneNumbers[type eq "work"] (...)     | Work phone                            |
| active                                 | Employment                            |
| externalId, enterprise employeeNumber, | kept for the directory                |
|   enterprise department                |                                       |
| deskgate extension level, mfaMethod    | Level, MFA                            |
"""

from __future__ import annotations

from typing import Any

from scim2_models import Email, EnterpriseUser, Meta, Name, PhoneNumber

from deskgate.accounts.actions import DirectoryAttributes, UserInput
from deskgate.accounts.models import Level, User
from deskgate.scim.schemas import DeskgateUser, ScimUser

# The action layer's field names as the SCIM attributes a directory maps.
ATTRIBUTE_OF = {
    "username": "userName",
    "full_name": "displayName",
    "email": "emails",
    "work_phone": "phoneNumbers",
    "is_active": "active",
    "employment": "active",
    "level": "level",
    "mfa_method": "mfaMethod",
    "external_id": "externalId",
    "employee_number": "employeeNumber",
    "department": "department",
}


def version(user: User) -> str:
    """The user's weak ETag: it changes with every write (updated_at is set by each save)."""
    return f'W/"{int(user.updated_at.timestamp() * 1_000_000):x}"'


def location(base: str, user: User) -> str:
    return f"{base}Users/{user.subject}"


def to_resource(user: User, base: str) -> Any:
    """The SCIM User of `user`, with its meta (the location under `base`)."""
    resource = ScimUser(
        id=str(user.subject),
        external_id=user.external_id or None,
        user_name=user.username,
        name=Name(formatted=user.full_name),
        display_name=user.full_name,
        active=user.is_active,
        emails=(
            [Email(value=user.email, type=Email.Type.work, primary=True)] if user.email else None
        ),
        phone_numbers=(
            [PhoneNumber(value=user.work_phone, type=PhoneNumber.Type.work, primary=True)]
            if user.work_phone
            else None
        ),
        meta=Meta(
            resource_type="User",
            created=user.created_at,
            last_modified=user.updated_at,
            location=location(base, user),
            version=version(user),
        ),
    )
    resource[EnterpriseUser] = EnterpriseUser(
        employee_number=user.employee_number or None, department=user.department or None
    )
    resource[DeskgateUser] = DeskgateUser(level=user.level, mfa_method=user.mfa_method)
    return resource


def _pick(values: list[Any] | None) -> str:
    """The work value, else the primary one, else the only one (RFC 7643 §4.1.2)."""
    if not values:
        return ""
    chosen = (
        next((v for v in values if v.type is not None and str(v.type).lower() == "work"), None)
        or next((v for v in values if v.primary), None)
        or (values[0] if len(values) == 1 else None)
    )
    return str(chosen.value or "") if chosen is not None else ""


def _joined(name: Name | None) -> str:
    if name is None:
        return ""
    return " ".join(p for p in (name.given_name, name.family_name) if p)


def _full_name(resource: Any, before: Any | None) -> str:
    """name.formatted, else displayName, else givenName familyName; in a PATCH, the one the
    directory changed (Entra changes givenName alone and leaves formatted as it was)."""
    name: Name | None = resource.name
    formatted = name.formatted if name else None
    if before is not None:
        before_name: Name | None = before.name
        if formatted != (before_name.formatted if before_name else None):
            return formatted or ""
        if resource.display_name != before.display_name:
            return str(resource.display_name or "")
        if _joined(name) != _joined(before_name) and name is not None:
            # Deskgate keeps one full name; a part the PATCH left out is read from it
            # (given name first: "Ada Lovelace" is givenName Ada, familyName Lovelace).
            given, _, family = (before.display_name or "").partition(" ")
            return " ".join(p for p in (name.given_name or given, name.family_name or family) if p)
        return formatted or str(resource.display_name or "")
    return formatted or str(resource.display_name or "") or _joined(name)


def to_input(resource: Any, stored: User | None, *, before: Any | None = None) -> UserInput:
    """The fields `resource` asks for. What it leaves out: a new user is an agent, active,
    with the MFA method the client's settings give its level
    (else Off); an existing one keeps their level, MFA method and directory extension."""
    enterprise: EnterpriseUser | None = resource[EnterpriseUser]
    deskgate: DeskgateUser | None = resource[DeskgateUser]
    if enterprise is not None:
        employee_number = enterprise.employee_number or ""
        department = enterprise.department or ""
    elif stored is not None:
        employee_number, department = stored.employee_number, stored.department
    else:
        employee_number = department = ""
    level = (deskgate.level if deskgate else None) or (stored.level if stored else Level.AGENT)
    method = (deskgate.mfa_method if deskgate else None) or (
        stored.mfa_method if stored else ""  # a new user: the settings' method for the level
    )
    if resource.active is not None:
        active = bool(resource.active)
    else:
        active = stored.is_active if stored else True
    return UserInput(
        username=str(resource.user_name or ""),
        full_name=_full_name(resource, before),
        level=str(level).lower(),
        email=_pick(resource.emails),
        work_phone=_pick(resource.phone_numbers),
        mfa_method=str(method).lower(),
        is_active=active,
        directory=DirectoryAttributes(
            external_id=str(resource.external_id or ""),
            employee_number=str(employee_number),
            department=str(department),
        ),
    )
