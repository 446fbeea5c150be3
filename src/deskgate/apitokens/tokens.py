"""Issuing, revoking and checking API tokens: the only module that writes `ApiToken`.

A token is `dgt_` and 43 characters of `secrets.token_urlsafe(32)`; it is shown once and
kept as its SHA-256. A request presents it as `Authorization: Bearer <token>`;
`authenticate` answers the `Use` the door acts with (an `Actor` of via `api` or `scim`, bound
to the token's client), or raises `Refused` with the status and the words to answer.

What one check does, in order: find the token by its digest (one indexed read, with its
client and creator); refuse it revoked, expired, of the wrong scope, or when the admin who
created it is no longer an active admin of the client (a token never outlives its maker's
rights); then one conditional UPDATE counts the request in the token's one-minute window and
records the last use (time and address). Parallel requests on any number of processes cannot
pass the limit: the count is checked and raised in that one statement.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, QuerySet, When
from django.http import Http404, HttpRequest
from django.utils import timezone

from deskgate.accounts import audit, permissions, rules
from deskgate.accounts.models import AuditAction, Client, User
from deskgate.accounts.permissions import Op
from deskgate.apitokens.models import ApiToken, Scope
from deskgate.http.actors import client_ip
from deskgate.typed_settings import number, setting

PREFIX = "dgt_"
WINDOW = 60  # seconds: the rate limit counts requests per token per minute
NAME_MAX = 100
EXPIRY_DAYS_MAX = 3650

NOT_VALID = "This API token is not valid."
MISSING = "Send an API token as the header Authorization: Bearer <token>."


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def rate_limit() -> int:
    """Requests one token may make per minute (DESKGATE_API_RATE_LIMIT)."""
    return number(setting("DESKGATE_API_RATE_LIMIT"), "DESKGATE_API_RATE_LIMIT", least=1)


# --- issuing and revoking (admins on Settings > API tokens, operators at the command line) --


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # shown once, never stored


MANAGED_BY = (
    "API tokens are created and revoked by the company's admins (Settings > API tokens) "
    "or by an operator at the command line."
)


def _require_may_manage_tokens(by: audit.Actor, client_id: int) -> None:
    """Only an admin of the client, or the operator at the command line, issues and revokes.

    `permissions.check` lets an actor without a user through as the operator; a program holding
    a token (or any other userless actor) is not one here: a token that could mint tokens
    would outlive its maker's rights and every revocation.
    """
    if by.user is None and (by.token is not None or by.via != audit.Via.CLI):
        raise PermissionDenied(MANAGED_BY)
    permissions.check(by.user, Op.API_TOKENS, client_id)


def clean_name(raw: str) -> str:
    name = rules.clean_name(raw, "Name", NAME_MAX)
    if not name:
        raise ValidationError({"name": ["Give the token a name, such as Entra ID provisioning."]})
    return name


def issue(
    client: Client, *, name: str, scope: str, expires_days: int | None, by: audit.Actor
) -> Issued:
    """Create a token for `client`; only its admins and the operator may."""
    _require_may_manage_tokens(by, client.pk)
    errors: dict[str, list[str]] = {}
    try:
        name = clean_name(name)
    except ValidationError as exc:
        errors["name"] = exc.messages
    if scope not in Scope.values:
        errors["scope"] = [f"Choose a scope: {', '.join(Scope.values)}."]
    if expires_days is not None and not 1 <= expires_days <= EXPIRY_DAYS_MAX:
        errors["expires_days"] = [f"Expiry is 1 to {EXPIRY_DAYS_MAX} days, or none."]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    secret = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if tokens_of(client).filter(name=name, revoked_at=None).exists():
            raise ValidationError(
                {"name": [f"{client.name} already has a token named {name}; choose another."]}
            )
        token = ApiToken(
            client=client,
            name=name,
            scope=scope,
            digest=digest_of(secret),
            hint=secret[: len(PREFIX) + 6],
            created_by=by.user,
            created_by_label=by.label,
            created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
        try:
            with transaction.atomic():
                token.save()
        except IntegrityError as exc:
            raise ValidationError({"name": ["That name was just taken; choose another."]}) from exc
        audit.record(
            AuditAction.TOKEN_CREATED,
            client=client,
            by=by,
            summary=f"API token {name} created ({Scope(scope).label})",
            token=name,
            token_id=token.pk,
            scope=scope,
            expires_at=token.expires_at.isoformat() if token.expires_at else None,
        )
    return Issued(token, secret)


def revoke(token: ApiToken, *, by: audit.Actor) -> bool:
    """Revoke a token at once; answer False when it was revoked already."""
    _require_may_manage_tokens(by, token.client_id)
    now = timezone.now()
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(
            revoked_at=now, revoked_by_label=by.label
        )
        if done:
            audit.record(
                AuditAction.TOKEN_REVOKED,
                client=token.client,
                by=by,
                summary=f"API token {token.name} revoked",
                token=token.name,
                token_id=token.pk,
            )
    token.refresh_from_db()
    return bool(done)


def tokens_of(client: Client) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(client=client)


def get_token(client: Client, token_id: object) -> ApiToken:
    """A token of `client`; another client's id answers as a missing one (R10)."""
    try:
        pk = int(str(token_id))
    except ValueError:
        raise Http404("No such token.") from None
    token = tokens_of(client).select_related("client").filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token


# --- checking a request's token ---------------------------------------------------------------


class Refused(Exception):
    """A request's token does not let it through: the status and the words to answer."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        error: str = "invalid_token",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error  # RFC 6750's error code for WWW-Authenticate
        self.retry_after = retry_after

    def headers(self, *, scope: str | None = None) -> dict[str, str]:
        """The answer's headers: RFC 6750's Bearer challenge (no error code when no token was
        sent at all, section 3.1; `scope` names what a 403 needed) and Retry-After past the
        rate limit. Both doors answer with these."""
        found: dict[str, str] = {}
        if self.status == 401 and self.error == "invalid_request":
            found["WWW-Authenticate"] = "Bearer"
        elif self.status == 401:
            found["WWW-Authenticate"] = f'Bearer error="{self.error}"'
        elif self.status == 403:
            needed = f', scope="{scope}"' if scope else ""
            found["WWW-Authenticate"] = f'Bearer error="insufficient_scope"{needed}'
        if self.retry_after is not None:
            found["Retry-After"] = str(self.retry_after)
        return found


@dataclass(frozen=True)
class Use:
    """A request let through: the token, its client and the actor the actions record."""

    token: ApiToken
    actor: audit.Actor

    @property
    def client(self) -> Client:
        return self.token.client


def _presented(request: HttpRequest) -> str:
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise Refused(401, MISSING, error="invalid_request")
    return value


def _window(now: datetime) -> datetime:
    start = int(now.timestamp()) // WINDOW * WINDOW
    return datetime.fromtimestamp(start, tz=UTC)


def _refuse(token: ApiToken, actor: audit.Actor, refused: Refused, **detail: Any) -> Refused:
    """Audit a refusal of a known token, once per token per window: the first refusal of the
    window claims it in one UPDATE, so parallel refusals record one event between them."""
    window = _window(timezone.now())
    first = (
        ApiToken.objects.filter(pk=token.pk)
        .exclude(refusal_noted_window=window)
        .update(refusal_noted_window=window)
    )
    if first:
        _record_refusal(token, actor, refused, **detail)
    return refused


def _record_refusal(token: ApiToken, actor: audit.Actor, refused: Refused, **detail: Any) -> None:
    audit.record(
        AuditAction.TOKEN_REFUSED,
        client=token.client,
        by=actor,
        summary=f"Request with API token {token.name} refused: {refused.reason}"[:500],
        status=refused.status,
        **detail,
    )


def authenticate(request: HttpRequest, *, door: audit.Via, needs: frozenset[str]) -> Use:
    """The `Use` of the request's token when it may do what `needs` names (scopes, any one
    of which will do), or `Refused`."""
    secret = _presented(request)
    token = (
        ApiToken.objects.select_related("client", "created_by")
        .filter(digest=digest_of(secret))
        .first()
    )
    if token is None:
        raise Refused(401, NOT_VALID)
    ip = client_ip(request)
    actor = audit.Actor(
        ip=ip,
        via=door,
        token=token.name,
        token_id=token.pk,
        client_id=token.client_id,
    )
    now = timezone.now()
    if token.revoked_at is not None:
        raise _refuse(token, actor, Refused(401, "This API token was revoked."))
    if token.expired(now):
        raise _refuse(token, actor, Refused(401, "This API token has expired."))
    if token.created_by_id is None and token.created_by_label != audit.OPERATOR.label:
        raise _refuse(token, actor, Refused(401, _maker_gone(token)))
    if token.created_by is not None:
        reason = permissions.refusal(token.created_by, Op.API_TOKENS, token.client_id)
        if reason is not None:
            raise _refuse(token, actor, Refused(401, _maker_gone(token)))
    if token.scope not in needs:
        wanted = " or ".join(Scope(s).label for s in sorted(needs))
        raise _refuse(
            token,
            actor,
            Refused(
                403,
                f"This token's scope is {Scope(token.scope).label}; this needs {wanted}.",
                error="insufficient_scope",
            ),
            scope=token.scope,
            path=request.path,
        )
    _count(token, actor, ip=ip, now=now)
    return Use(token, actor)


def _maker_gone(token: ApiToken) -> str:
    return (
        f"The admin who created this token ({token.created_by_label}) is no longer an active "
        f"admin of {token.client.name}; an admin can create a new token."
    )


def _count(token: ApiToken, actor: audit.Actor, *, ip: str | None, now: datetime) -> None:
    """Count the request in the token's window and record its last use, in one statement
    that also refuses it past the limit."""
    cap = rate_limit()
    window = _window(now)
    same_window = Q(window_start=window)
    counted = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(~same_window | Q(window_start=None) | Q(window_count__lt=cap))
        .update(
            window_count=Case(When(same_window, then=F("window_count") + 1), default=1),
            window_start=window,
            last_used_at=now,
            last_used_ip=ip,
        )
    )
    if counted:
        return
    retry_after = max(1, math.ceil((window + timedelta(seconds=WINDOW) - now).total_seconds()))
    refused = Refused(
        429,
        f"This token made more than {cap} requests in a minute; try again in {retry_after} s.",
        error="rate_limited",
        retry_after=retry_after,
    )
    # The window's first refusal is audited, once (the count steps past the cap once).
    first = ApiToken.objects.filter(pk=token.pk, window_start=window, window_count=cap).update(
        window_count=cap + 1
    )
    if first:
        _record_refusal(token, actor, refused, limit=cap)
    raise refused


def record_read(use: Use, summary: str, *, subject: User | None = None, **detail: Any) -> None:
    """Audit a read (every use of a token is on the trail, with its label); `subject`: the
    one user it read, so the read shows on that user's trail."""
    audit.record(
        AuditAction.API_READ,
        client=use.client,
        by=use.actor,
        subject=subject,
        summary=summary,
        **detail,
    )
