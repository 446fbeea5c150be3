"""Which audit events a reader asked for: one filter for the audit page, its CSV and the
REST API, so the three never disagree about what "events of this user since Monday" is.

Callers start from the events the reader may see (`access.audit_for_admin`, or the API
token's client) and narrow them here; this module decides nothing about rights.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from deskgate.accounts.models import AuditAction, AuditEvent, User

TEXT_MAX = 100


def clean_action(value: str, *, field: str = "action") -> str:
    """The action as stored ("user.mfa_changed"), or ValidationError naming what was typed."""
    if value not in AuditAction.values:
        message = _("There is no audit action %(action)s.") % {"action": value}
        raise ValidationError({field: [message]})
    return value


def clean_text(value: str) -> str:
    """Typed text as the filters compare it: trimmed, without NUL (which PostgreSQL refuses
    in a parameter and no stored field holds), at most TEXT_MAX characters."""
    return " ".join(value.replace("\x00", "").split())[:TEXT_MAX]


@dataclass(frozen=True)
class AuditFilter:
    """What to keep of an audit trail; every part is optional and they all apply.

    `subject`: events concerning this user. `subject_text` / `actor_text`: part of whom the
    event concerns / who did it, as the trail names them ("Vera", "vera.agent", "API token").
    `since` inclusive, `until` exclusive. `text`: part of the summary, either name, the
    action or the address it came from.
    """

    subject: User | None = None
    subject_text: str = ""
    actor_text: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.subject is not None:
            events = events.filter(subject=self.subject)
        if self.action:
            events = events.filter(action=clean_action(self.action))
        if self.since is not None:
            events = events.filter(at__gte=self.since)
        if self.until is not None:
            events = events.filter(at__lt=self.until)
        if self.subject_text:
            events = events.filter(subject_label__icontains=self.subject_text)
        if self.actor_text:
            events = events.filter(actor_label__icontains=self.actor_text)
        if self.text:
            t = self.text
            events = events.filter(
                Q(summary__icontains=t)
                | Q(subject_label__icontains=t)
                | Q(actor_label__icontains=t)
                | Q(action__icontains=t)
                | Q(ip__icontains=t)
            )
        return events

    @property
    def narrows_by_text(self) -> bool:
        """Whether a part matches typed text (no index serves it: counting is capped)."""
        return bool(self.subject_text or self.actor_text or self.text)
