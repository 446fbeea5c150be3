"""The REST API's bodies, as pydantic models: the OpenAPI document is generated from them.

Types only: what a field may hold is decided by the rules the pages use (the actions), which
answer 400 with the rule's words; a wrong type or a missing field answers 422.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from ninja import Schema
from pydantic import Field

from deskgate.accounts.models import AuditEvent, User

Text = Annotated[str, Field(max_length=1000)]


class LevelName(StrEnum):
    admin = "admin"
    manager = "manager"
    team_leader = "team_leader"
    agent = "agent"


class MfaName(StrEnum):
    off = "off"
    email = "email"
    sms = "sms"


class UserOut(Schema):
    id: UUID = Field(description="Stable id (the OpenID Provider's `sub`); survives renames.")
    username: str
    full_name: str
    level: LevelName
    email: str
    work_phone: str = Field(description="E.164, as stored")
    mfa_method: MfaName
    active: bool
    external_id: str
    employee_number: str
    department: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.subject,
            username=user.username,
            full_name=user.full_name,
            level=LevelName(user.level),
            email=user.email,
            work_phone=user.work_phone,
            mfa_method=MfaName(user.mfa_method),
            active=user.is_active,
            external_id=user.external_id,
            employee_number=user.employee_number,
            department=user.department,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class InvitationOut(Schema):
    sent: bool
    destination: str = Field(default="", description="The Email it went to, masked.")
    expires_at: datetime | None = None
    reason: str = Field(default="", description="Why none was sent (the user is created anyway).")


class UserSaved(Schema):
    user: UserOut
    warnings: list[str] = Field(
        description="R5: message templates that send from a field this user's MFA uses."
    )
    invitation: InvitationOut | None = Field(
        default=None, description="With `invite`: whether the invitation went out."
    )


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: none")


class UserCreate(Schema):
    username: Text
    full_name: Text
    level: LevelName = LevelName.agent
    email: Text = ""
    work_phone: Text = ""
    mfa_method: MfaName | None = Field(
        None,
        description="None: the method the client's settings give new users of the level "
        "(else off).",
    )
    active: bool = True
    password: Text | None = Field(
        None,
        description="A temporary password the user changes at first sign-in; "
        "none: the user cannot sign in with a password until one is set.",
    )
    invite: bool = Field(
        False,
        description="Email the user an invitation: a single-use link where they choose "
        "their own password (valid for the client's invitation hours). Needs `email`; not "
        "with `password`.",
    )
    external_id: Text | None = None
    employee_number: Text | None = None
    department: Text | None = None


class UserChange(Schema):
    """Only the fields sent change; the others keep what is stored."""

    username: Text | None = None
    full_name: Text | None = None
    level: LevelName | None = None
    email: Text | None = None
    work_phone: Text | None = None
    mfa_method: MfaName | None = None
    active: bool | None = None
    external_id: Text | None = None
    employee_number: Text | None = None
    department: Text | None = None


class BulkMfa(Schema):
    method: MfaName
    user_ids: list[UUID] | None = Field(
        None, max_length=10000, description="The users to change (or give `level`)."
    )
    level: LevelName | None = Field(None, description="Every user of this level.")


class BulkResult(Schema):
    id: UUID
    username: str | None = Field(description="null: no such user")
    applied: bool
    reason: str


class BulkOut(Schema):
    applied: int
    refused: int
    results: list[BulkResult]


class Unlocked(Schema):
    unlocked: bool = Field(description="False: the user was not locked.")


class DevicesRevoked(Schema):
    revoked: int


class SessionsEnded(Schema):
    sessions_ended: int


class AuditOut(Schema):
    id: int
    at: datetime
    action: str
    action_label: str
    actor: str
    user_id: UUID | None = Field(description="The user the event concerns, if any.")
    user: str
    ip: str | None
    via: str
    summary: str
    destination: str = Field(description="Masked address or number, as the audit page shows it")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditOut:
        detail: dict[str, Any] = event.detail if isinstance(event.detail, dict) else {}
        subject = event.subject
        return cls(
            id=event.pk,
            at=event.at,
            action=event.action,
            action_label=event.get_action_display(),
            actor=event.actor_label,
            user_id=subject.subject if subject is not None else None,
            user=event.subject_label,
            ip=event.ip,
            via=str(detail.get("via", "")),
            summary=event.summary,
            destination=event.destination,
        )


class AuditPage(Schema):
    items: list[AuditOut]
    next_cursor: str | None


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        None, description="Per field: {field, message}; field null for the whole request."
    )
