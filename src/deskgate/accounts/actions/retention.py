"""How long the audit trail keeps events, and removing older ones (`deskgate purge-audit`)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from deskgate.accounts import audit, permissions
from deskgate.accounts.actions import privacy
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, Client

RETENTION_RANGE = (30, 3650)


def set_audit_retention(client: Client, days: int, *, by: Actor) -> Client:
    """Keep `client`'s audit events `days` days (30 to 3650); its admins and the operator."""
    permissions.check(by.user, permissions.Op.CLIENT_SETTINGS, client.pk)
    low, high = RETENTION_RANGE
    if not low <= days <= high:
        raise ValidationError(
            {
                "audit_retention_days": [
                    _("Enter a number of days from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                ]
            }
        )
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.audit_retention_days != days:
            before = client.audit_retention_days
            client.audit_retention_days = days
            client.save(update_fields=["audit_retention_days"])
            audit.record(
                AuditAction.CLIENT_SETTINGS_CHANGED,
                client=client,
                by=by,
                summary=f"Audit events kept {days} days (was {before})",
                audit_retention_days=days,
            )
    return client


def purge_audit(
    *, by: Actor, clients: list[Client] | None = None, now: datetime | None = None
) -> list[tuple[str, int]]:
    """Remove events older than each client's retention (all clients, and the platform's own
    events, when `clients` is None); answer (name, events removed) per client. Each removal
    leaves one event saying how many went, which the next purge keeps until it is old."""
    results: list[tuple[str, int]] = []
    for client in clients if clients is not None else list(Client.objects.order_by("name")):
        with transaction.atomic():
            days = client.audit_retention_days
            removed = privacy.purge_before(client, days, now=now)
            if removed:
                audit.record(
                    AuditAction.AUDIT_PURGED,
                    client=client,
                    by=by,
                    summary=f"{removed} audit events older than {days} days removed",
                    removed=removed,
                    days=days,
                )
        results.append((client.name, removed))
    if clients is None:
        removed = privacy.purge_before(None, privacy.PLATFORM_RETENTION_DAYS, now=now)
        results.append(("(platform events)", removed))
    return results
