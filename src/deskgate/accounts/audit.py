"""Recording audit events (R9). Callers pass masked values only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils import timezone

from deskgate import rows
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User


class Via(StrEnum):
    """Where an actor acts from; recorded as the event's `via`."""

    WEB = "web"  # a page: an admin, or the user themselves (sign-in, reset)
    CLI = "cli"  # an operator's management command
    API = "api"  # a program with an API token, through the REST API
    SCIM = "scim"  # a directory with an API token, through SCIM


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where: an admin on a page, an operator at the CLI, the user, or
    a program holding one of a client's API tokens (`token`, its label; `client_id`, the
    only client it may act on)."""

    user: User | None = None
    ip: str | None = None
    via: Via = Via.WEB
    token: str | None = None
    token_id: int | None = None
    client_id: int | None = None

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"API token \u201c{self.token}\u201d"
        if self.user is None:
            return "operator (command line)" if self.via == Via.CLI else "system"
        return self.user.label


OPERATOR = Actor(via=Via.CLI)


def record(
    action: AuditAction,
    *,
    client: Client | None,
    by: Actor,
    subject: User | None = None,
    summary: str,
    **detail: Any,
) -> AuditEvent:
    event = build(action, client=client, by=by, subject=subject, summary=summary, **detail)
    # One fixed INSERT (every sign-in records two events; the ORM's compiled one cost more
    # CPU than the database took to run it, issue 17). No receiver listens to its save.
    # Within `rows.waiting()` it may go with the block's other writes (its id set then).
    rows.insert(event, later=True)
    return event


def build(
    action: AuditAction,
    *,
    client: Client | None,
    by: Actor,
    subject: User | None = None,
    summary: str,
    **detail: Any,
) -> AuditEvent:
    """An event not yet saved, for writers that save many at once (bulk actions)."""
    return AuditEvent(
        client=client,
        at=timezone.now(),
        action=action,
        actor=by.user,
        actor_label=by.label,
        subject=subject,
        subject_label=subject.label if subject is not None else "",
        ip=by.ip,
        summary=summary[:500],
        detail={"via": by.via, **_token_of(by), **detail},
    )


def _token_of(by: Actor) -> dict[str, Any]:
    if by.token is None:
        return {}
    return {"token": by.token, "token_id": by.token_id}
