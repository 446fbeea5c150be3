"""The REST API's audit trail: the client's events, newest first, as the audit page shows them
(masked destinations, never a code, a password or a full phone number)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from deskgate.accounts.audit_filters import AuditFilter, clean_action
from deskgate.accounts.models import AuditEvent, User
from deskgate.api import cursors
from deskgate.api.auth import READ, use_of
from deskgate.api.schemas import AuditOut, AuditPage, Problem
from deskgate.apitokens import tokens

router = Router(tags=["audit"])


class AuditFilters(Schema):
    user_id: UUID | None = Field(None, description="Events concerning this user")
    action: str | None = Field(None, max_length=40, description="An action, e.g. user.mfa_changed")
    since: datetime | None = Field(None, description="From this moment (inclusive)")
    until: datetime | None = Field(None, description="Before this moment")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=500)


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationError({name: ["Give the time with its zone: 2026-11-30T08:00:00Z."]})
    return moment


@router.get(
    "/audit",
    response={200: AuditPage, 400: Problem, 401: Problem, 403: Problem, 422: Problem, 429: Problem},
    auth=READ,
)
def audit_trail(request: HttpRequest, filters: Query[AuditFilters]) -> AuditPage:
    """The client's audit trail, newest first; filter by user, action and time, page with
    `cursor`. An unknown user id or action gives an empty page, as a missing one would."""
    use = use_of(request)
    events = AuditEvent.objects.filter(client=use.client).select_related("subject")
    subject = None
    if filters.user_id is not None:
        subject = User.objects.filter(client=use.client, subject=filters.user_id).first()
        if subject is None:
            events = events.none()
    # The same filter as the audit page (accounts.audit_filters), so both read alike.
    wanted = AuditFilter(
        subject=subject,
        action=clean_action(filters.action) if filters.action else "",
        since=_aware("since", filters.since),
        until=_aware("until", filters.until),
    )
    events = wanted.apply(events)
    if filters.cursor:
        at, pk = cursors.decode(filters.cursor, datetime, int)
        events = events.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    page, more = cursors.take(events.order_by("-at", "-pk"), filters.limit)
    tokens.record_read(
        use, f"Read {len(page)} audit event{'' if len(page) == 1 else 's'}", path=request.path
    )
    last = page[-1] if page else None
    return AuditPage(
        items=[AuditOut.of(e) for e in page],
        next_cursor=cursors.encode(last.at, last.pk) if more and last else None,
    )
