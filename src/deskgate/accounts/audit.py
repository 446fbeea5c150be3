"""Recording audit events (R9). Callers pass masked values only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from deskgate.accounts.models import AuditEvent, Client, User


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where: an admin on a page, an operator at the CLI, or the user."""

    user: User | None = None
    ip: str | None = None
    via: str = "web"

    @property
    def label(self) -> str:
        if self.user is None:
            return "operator (command line)" if self.via == "cli" else "system"
        return self.user.label


OPERATOR = Actor(via="cli")


def record(
    action: str,
    *,
    client: Client | None,
    by: Actor,
    subject: User | None = None,
    summary: str,
    **detail: Any,
) -> AuditEvent:
    event = build(action, client=client, by=by, subject=subject, summary=summary, **detail)
    event.save()
    return event


def build(
    action: str,
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
        detail={"via": by.via, **detail},
    )
