"""The SCIM endpoints: discovery, and Users (create, read, list, replace, patch, delete).

Thin: parse the request, call the action layer, answer. Every read is audited with the
token's label (never a filter's values: they hold addresses); every write is audited by the
action it calls, with the token as the actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.http import Http404, HttpRequest, HttpResponse
from scim2_models import (
    Context,
    InvalidValueException,
    PreconditionFailedException,
    ResponseParameters,
    UniquenessException,
)

from deskgate.accounts import actions
from deskgate.accounts.actions import invitations
from deskgate.accounts.actions.users import write_user
from deskgate.accounts.models import User
from deskgate.apitokens import tokens
from deskgate.scim import discovery, filters, mapping, patching
from deskgate.scim.responses import answer, base_url, endpoint, error, read_body
from deskgate.scim.schemas import ScimUser

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DEFAULT_COUNT = 100


# --- discovery (RFC 7644 §4) ------------------------------------------------------------------


@endpoint("GET")
def service_provider_config(request: HttpRequest, use: tokens.Use) -> HttpResponse:
    tokens.record_read(use, "SCIM: read ServiceProviderConfig")
    return answer(discovery.service_provider_config(base_url()))


def _listed(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _one_or_all(
    use: tokens.Use, what: str, found: list[dict[str, Any]], wanted: str | None
) -> HttpResponse:
    tokens.record_read(use, f"SCIM: read {what}")
    if wanted is None:
        return answer(_listed(found))
    for resource in found:
        if resource["id"] == wanted:
            return answer(resource)
    return error(404, f"No such {what[:-1] if what.endswith('s') else what}: {wanted}.")


@endpoint("GET")
def resource_types(request: HttpRequest, use: tokens.Use, name: str | None = None) -> HttpResponse:
    return _one_or_all(use, "ResourceTypes", discovery.resource_types(base_url()), name)


@endpoint("GET")
def schemas(request: HttpRequest, use: tokens.Use, urn: str | None = None) -> HttpResponse:
    return _one_or_all(use, "Schemas", discovery.schemas(base_url()), urn)


# --- Users (RFC 7644 §3) ----------------------------------------------------------------------


def users_of(use: tokens.Use) -> QuerySet[User]:
    return User.objects.filter(client=use.client)


def get_user(use: tokens.Use, user_id: str) -> User:
    """The token's client's user with this id; another client's id answers as a missing
    one (R10)."""
    try:
        subject = uuid.UUID(user_id)
    except ValueError:
        raise Http404 from None
    user = users_of(use).select_related("client").filter(subject=subject).first()
    if user is None:
        raise Http404
    return user


def _parameters(request: HttpRequest) -> Any:
    attributes = request.GET.get("attributes")
    excluded = request.GET.get("excludedAttributes")
    if not attributes and not excluded:
        return None
    return ResponseParameters[ScimUser].model_validate(
        {"attributes": attributes or None, "excludedAttributes": excluded or None}
    )


def render(user: User, parameters: Any = None) -> dict[str, Any]:
    resource = mapping.to_resource(user, base_url())
    dumped: dict[str, Any] = resource.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )
    return dumped


def one(user: User, status: int = 200, parameters: Any = None) -> HttpResponse:
    headers = {"ETag": mapping.version(user)}
    if status == 201:
        headers["Location"] = mapping.location(base_url(), user)
    return answer(render(user, parameters), status, **headers)


def _integer(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidValueException(detail=f"{name} is a whole number, not {raw!r}.") from None


def list_users(request: HttpRequest, use: tokens.Use) -> HttpResponse:
    """RFC 7644 §3.4.2: filter, 1-based startIndex, count (0 answers the total only)."""
    expression = request.GET.get("filter", "")
    query = filters.to_q(expression) if expression.strip() else None
    start = max(1, _integer(request, "startIndex", 1))
    count = min(max(0, _integer(request, "count", DEFAULT_COUNT)), discovery.MAX_RESULTS)
    parameters = _parameters(request)
    rows = users_of(use).select_related("client")
    if query is not None:
        rows = rows.filter(query)
    total = rows.count()
    page = list(rows.order_by("pk")[start - 1 : start - 1 + count]) if count and total else []
    tokens.record_read(
        use,
        f"SCIM: listed users ({total} found)",
        **filters.describe(expression),
        results=len(page),
    )
    return answer(
        {
            "schemas": [LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": [render(user, parameters) for user in page],
        }
    )


def _taken(username: str) -> bool:
    name = username.strip().lower()
    return bool(name) and User.objects.filter(Exact(Lower("username"), name)).exists()


def create_user(request: HttpRequest, use: tokens.Use) -> HttpResponse:
    """RFC 7644 §3.3. The first password is unusable: the person signs in through SSO, gets
    an invitation (when the client invites directory users, `Client.invite_directory_users`),
    or an admin sets one; a taken userName answers 409 uniqueness."""
    body = read_body(request)
    resource = ScimUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    data = mapping.to_input(resource, None)
    try:
        saved = actions.create_user(use.client, data, by=use.actor, password=None)
    except ValidationError as exc:
        # The name taken (by the check, or by a create that won a race to the constraint).
        if _taken(data.username) and (
            not hasattr(exc, "error_dict") or "username" in exc.error_dict
        ):
            raise UniquenessException(
                detail=f"The user name {data.username.strip()} is already taken; user names "
                "are unique across the platform."
            ) from None
        raise
    _invite_if_asked(saved.user, use)
    return one(saved.user, 201)


def _invite_if_asked(user: User, use: tokens.Use) -> None:
    """A directory knows nothing of invitations: the client's setting decides. The user
    exists whatever happens to the email; one that could not go shows on the user page
    (Invitation: none sent) with Send."""
    if not user.client.invite_directory_users or invitations.refusal(user) is not None:
        return
    try:
        actions.invite(user, by=use.actor)
    except ValidationError:
        return


@endpoint("GET", "POST")
def users(request: HttpRequest, use: tokens.Use) -> HttpResponse:
    if request.method == "POST":
        return create_user(request, use)
    return list_users(request, use)


def _check_version(request: HttpRequest, user: User) -> None:
    """If-Match (RFC 7644 §3.14, RFC 7232 §3.1): the write goes ahead only on a match."""
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return
    tags = [t.strip() for t in wanted.split(",")]
    if "*" not in tags and mapping.version(user) not in tags:
        raise PreconditionFailedException(
            detail="The user changed since that version was read; read it again."
        )


def _write(
    request: HttpRequest, use: tokens.Use, user: User, build: Callable[[User], Any]
) -> HttpResponse:
    def checked(current: User) -> actions.UserInput:
        _check_version(request, current)
        data: actions.UserInput = build(current)
        return data

    saved = write_user(user, by=use.actor, build=checked, recheck=True)
    return one(saved.user)


def replace_user(request: HttpRequest, use: tokens.Use, user: User) -> HttpResponse:
    """RFC 7644 §3.5.1 (Okta's updates): the body is the whole user."""
    body = read_body(request)
    resource = ScimUser.model_validate(body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    return _write(request, use, user, lambda current: mapping.to_input(resource, current))


def patch_user(request: HttpRequest, use: tokens.Use, user: User) -> HttpResponse:
    """RFC 7644 §3.5.2, applied to the user as stored (row locked)."""
    body = read_body(request)

    def build(current: User) -> actions.UserInput:
        resource = mapping.to_resource(current, base_url())
        before = resource.model_copy(deep=True)
        patching.apply(resource, body)
        return mapping.to_input(resource, current, before=before)

    return _write(request, use, user, build)


def delete_user(request: HttpRequest, use: tokens.Use, user: User) -> HttpResponse:
    """RFC 7644 §3.6: deactivate (the user and their trail stay), or delete where the
    client chose so. Either way their sessions and app tokens end."""
    if use.client.directory_deletes_users:
        _check_version(request, user)
        actions.delete_user(user, by=use.actor)
    else:
        _deactivate(request, use, user)
    return HttpResponse(status=204)


def _deactivate(request: HttpRequest, use: tokens.Use, user: User) -> None:
    def build(current: User) -> actions.UserInput:
        _check_version(request, current)
        data = actions.UserInput.of(current)
        data.is_active = False
        return data

    write_user(user, by=use.actor, build=build, recheck=True)


@endpoint("GET", "PUT", "PATCH", "DELETE")
def user(request: HttpRequest, use: tokens.Use, user_id: str) -> HttpResponse:
    found = get_user(use, user_id)
    if request.method == "PUT":
        return replace_user(request, use, found)
    if request.method == "PATCH":
        return patch_user(request, use, found)
    if request.method == "DELETE":
        return delete_user(request, use, found)
    tokens.record_read(use, f"SCIM: read {found.label}", subject=found)
    return one(found, parameters=_parameters(request))
