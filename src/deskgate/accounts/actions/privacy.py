"""What Deskgate forgets, and when: a deleted person's name in the audit trail, and events
older than the client's retention.

The trail is evidence (R9): who changed whose sign-in settings, and from where. When a
person is deleted their events stay, so that an admin's changes can still be traced, but
their name and user name are replaced by a pseudonym in every event they are the subject
or the actor of. Destinations in the trail are masked already (never a full address or
number). Events older than the client's retention (default 365 days) are removed by
`deskgate purge-audit`, run daily by the operator's scheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.utils import timezone

from deskgate.accounts.models import AuditEvent, Client, User

# Events with no client (an app registered by the operator, say) are kept this long.
PLATFORM_RETENTION_DAYS = 365


def pseudonym(user: User) -> str:
    """A stable name for a deleted person: the start of their random subject identifier,
    which apps that received it can match, and which names no one."""
    return f"deleted user {user.subject.hex[:8]}"


def forget_in_trail(user: User, name: str) -> int:
    """Replace `user`'s label and full name with `name` in their events; answer how many."""
    events = AuditEvent.objects.filter(Q(subject=user) | Q(actor=user))
    changed = 0
    for old in (user.label, user.full_name):
        if old:
            changed = max(
                changed,
                events.filter(summary__contains=old).update(
                    summary=Replace("summary", Value(old), Value(name))
                ),
            )
    events.filter(subject=user).update(subject_label=name)
    events.filter(actor=user).update(actor_label=name)
    return changed


def purge_before(client: Client | None, days: int, *, now: datetime | None = None) -> int:
    """Delete `client`'s events (None: the platform's own) older than `days`; answer how many."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    rows = AuditEvent.objects.filter(client=client, at__lt=cutoff)
    deleted, _ = rows.delete()
    return deleted
