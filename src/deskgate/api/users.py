"""The REST API's users: what an admin does on the Users pages, through the same actions.

Each operation takes the request's token (`request.auth`, a `tokens.Use`): reads need scope
read or write, changes need write. A user is named by `User.subject`; another client's id
answers exactly as a missing one (R10).
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from deskgate.accounts import actions, rules
from deskgate.accounts.actions.users import stored_with, write_user
from deskgate.accounts.models import User
from deskgate.api import cursors
from deskgate.api.auth import READ, WRITE, use_of
from deskgate.api.schemas import (
    BulkMfa,
    BulkOut,
    BulkResult,
    DevicesRevoked,
    InvitationOut,
    LevelName,
    MfaName,
    Problem,
    SessionsEnded,
    Unlocked,
    UserChange,
    UserCreate,
    UserOut,
    UserPage,
    UserSaved,
)
from deskgate.apitokens import tokens

router = Router(tags=["users"])

READS = {200: UserOut, 401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITES = {**READS, 200: UserSaved, 400: Problem}
LIMIT_MAX = 200
NO_USER = "No such user."


class UserFilters(Schema):
    q: str | None = Field(None, max_length=200, description="Name, user name, email or phone")
    level: LevelName | None = None
    mfa_method: MfaName | None = None
    active: bool | None = None
    limit: int = Field(50, ge=1, le=LIMIT_MAX)
    cursor: str | None = Field(None, max_length=500)


def _user(request: HttpRequest, user_id: UUID) -> User:
    use = use_of(request)
    user = User.objects.select_related("client").filter(client=use.client, subject=user_id).first()
    if user is None:
        raise Http404(NO_USER)
    return user


def _saved(saved: actions.UserSaved) -> UserSaved:
    return UserSaved(user=UserOut.of(saved.user), warnings=saved.warnings)


@router.get("/users", response={**READS, 200: UserPage, 400: Problem}, auth=READ)
def list_users(request: HttpRequest, filters: Query[UserFilters]) -> UserPage:
    """The client's users by full name; filter, search, and page with `cursor`."""
    use = use_of(request)
    rows = User.objects.filter(client=use.client)
    if filters.q:
        rows = rows.filter(rules.users_matching(use.client, filters.q))
    if filters.level is not None:
        rows = rows.filter(level=filters.level.value)
    if filters.mfa_method is not None:
        rows = rows.filter(mfa_method=filters.mfa_method.value)
    if filters.active is not None:
        rows = rows.filter(is_active=filters.active)
    if filters.cursor:
        name, pk = cursors.decode(filters.cursor, str, int)
        rows = rows.filter(Q(full_name__gt=name) | Q(full_name=name, pk__gt=pk))
    page, more = cursors.take(rows.order_by("full_name", "pk"), filters.limit)
    tokens.record_read(
        use,
        f"Listed {len(page)} user{'' if len(page) == 1 else 's'}",
        path=request.path,
        filters=sorted(k for k in ("q", "level", "mfa_method", "active") if getattr(filters, k)),
    )
    last = page[-1] if page else None
    return UserPage(
        items=[UserOut.of(u) for u in page],
        next_cursor=cursors.encode(last.full_name, last.pk) if more and last else None,
    )


@router.get("/users/{uuid:user_id}", response=READS, auth=READ)
def get_user(request: HttpRequest, user_id: UUID) -> UserOut:
    user = _user(request, user_id)
    tokens.record_read(use_of(request), f"Read {user.label}", subject=user, path=request.path)
    return UserOut.of(user)


def _directory(
    body: UserCreate | UserChange, user: User | None
) -> actions.DirectoryAttributes | None:
    sent = {
        name: getattr(body, name)
        for name in ("external_id", "employee_number", "department")
        if getattr(body, name) is not None
    }
    if not sent:
        return None
    kept = actions.DirectoryAttributes.of(user) if user else actions.DirectoryAttributes()
    for name, value in sent.items():
        setattr(kept, name, value)
    return kept


@router.post("/users", response={**WRITES, 201: UserSaved}, auth=WRITE)
def create_user(request: HttpRequest, body: UserCreate) -> Status[UserSaved]:
    """Create a user (temporary password, or none: they get one by reset or an admin)."""
    use = use_of(request)
    data = actions.UserInput(
        username=body.username,
        full_name=body.full_name,
        level=body.level.value,
        email=body.email,
        work_phone=body.work_phone,
        mfa_method=body.mfa_method.value if body.mfa_method is not None else "",
        is_active=body.active,
        directory=_directory(body, None),
    )
    if body.invite and (body.password or not body.email.strip()):
        raise ValidationError(
            {
                "invite": [
                    "An invitation needs an Email and no password: send one or the other."
                    if body.email.strip()
                    else "An invitation goes to the user's Email: give one, or a password."
                ]
            }
        )
    saved = actions.create_user(use.client, data, by=use.actor, password=body.password or None)
    answer = _saved(saved)
    if body.invite:
        try:
            sent = actions.invite(saved.user, by=use.actor)
        except ValidationError as exc:
            answer.invitation = InvitationOut(sent=False, reason=" ".join(exc.messages))
        else:
            answer.invitation = InvitationOut(
                sent=True, destination=sent.destination, expires_at=sent.expires_at
            )
    return Status(201, answer)


CHANGEABLE = ("username", "full_name", "level", "email", "work_phone", "mfa_method", "active")


@router.patch("/users/{uuid:user_id}", response=WRITES, auth=WRITE)
def change_user(request: HttpRequest, user_id: UUID, body: UserChange) -> UserSaved:
    """Change some of a user's fields; the ones not sent keep what is stored now."""
    use = use_of(request)
    user = _user(request, user_id)
    changes: dict[str, object] = {}
    for name in CHANGEABLE:
        value = getattr(body, name)
        if value is None:
            continue
        field = "is_active" if name == "active" else name
        changes[field] = value.value if isinstance(value, LevelName | MfaName) else value
    directory = _directory(body, user)

    def build(current: User) -> actions.UserInput:
        data = stored_with(**changes)(current)
        if directory is not None:
            fresh = actions.DirectoryAttributes.of(current)
            for name in ("external_id", "employee_number", "department"):
                if getattr(body, name) is not None:
                    setattr(fresh, name, getattr(body, name))
            data.directory = fresh
        return data

    return _saved(write_user(user, by=use.actor, build=build, recheck=True))


@router.post("/users/{uuid:user_id}/activate", response=WRITES, auth=WRITE)
def activate(request: HttpRequest, user_id: UUID) -> UserSaved:
    use = use_of(request)
    return _saved(actions.set_user_active(_user(request, user_id), True, by=use.actor))


@router.post("/users/{uuid:user_id}/deactivate", response=WRITES, auth=WRITE)
def deactivate(request: HttpRequest, user_id: UUID) -> UserSaved:
    """Set Inactive: the user cannot sign in, and their sessions and app tokens end."""
    use = use_of(request)
    return _saved(actions.set_user_active(_user(request, user_id), False, by=use.actor))


@router.post("/users/{uuid:user_id}/unlock", response={**READS, 200: Unlocked}, auth=WRITE)
def unlock(request: HttpRequest, user_id: UUID) -> Unlocked:
    use = use_of(request)
    return Unlocked(unlocked=actions.unlock_user(_user(request, user_id), by=use.actor))


@router.post(
    "/users/{uuid:user_id}/revoke-devices", response={**READS, 200: DevicesRevoked}, auth=WRITE
)
def revoke_devices(request: HttpRequest, user_id: UUID) -> DevicesRevoked:
    """Forget the user's remembered devices: their next sign-in asks for a code."""
    use = use_of(request)
    return DevicesRevoked(revoked=actions.revoke_devices(_user(request, user_id), by=use.actor))


@router.post(
    "/users/{uuid:user_id}/sign-out-everywhere", response={**READS, 200: SessionsEnded}, auth=WRITE
)
def sign_out_everywhere(request: HttpRequest, user_id: UUID) -> SessionsEnded:
    """End every session of the user here and their sign-ins in every app, and forget their
    remembered devices."""
    use = use_of(request)
    ended = actions.sign_out_everywhere(_user(request, user_id), by=use.actor)
    return SessionsEnded(sessions_ended=ended)


@router.post("/users/bulk-mfa", response={**READS, 200: BulkOut, 400: Problem}, auth=WRITE)
def bulk_mfa(request: HttpRequest, body: BulkMfa) -> BulkOut:
    """R8: set one MFA method for many users; per user, applied or refused and why."""
    use = use_of(request)
    if (body.user_ids is None) == (body.level is None):
        raise ValidationError({"user_ids": ["Give either user_ids or level, not both."]})
    rows = User.objects.filter(client=use.client)
    if body.level is not None:
        rows = rows.filter(level=body.level.value)
    else:
        rows = rows.filter(subject__in=body.user_ids or [])
    users = list(rows.order_by("full_name", "pk"))
    outcomes = actions.bulk_change_mfa_method(use.client, users, body.method.value, by=use.actor)
    results = [
        BulkResult(id=o.user.subject, username=o.user.username, applied=o.applied, reason=o.reason)
        for o in outcomes
    ]
    # An id that is not one of the client's users (missing, or another client's: R10 says
    # alike) is refused by name, so the caller sees every id it sent accounted for.
    found = {u.subject for u in users}
    for missing in dict.fromkeys(body.user_ids or []):
        if missing not in found:
            results.append(BulkResult(id=missing, username=None, applied=False, reason=NO_USER))
    applied = sum(r.applied for r in results)
    return BulkOut(applied=applied, refused=len(results) - applied, results=results)
