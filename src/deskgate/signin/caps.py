"""Hourly caps on codes sent, per user, per client and for the platform.

Each cap is a counter row per hourly window, taken with one conditional UPDATE, so
parallel requests on any number of processes cannot exceed it.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from deskgate.accounts.models import User
from deskgate.signin.models import SendCounter

SCOPE_MESSAGES = {
    "user": "Too many codes were sent to you in the last hour. Try again later, or ask your "
    "admin for help.",
    "client": "Your company has reached its limit of codes per hour. Try again later, or ask "
    "your admin.",
    "platform": "Deskgate is sending too many codes right now. Try again in a few minutes.",
}


def _take(scope: str, window: datetime, cap: int) -> bool:
    taken = SendCounter.objects.filter(scope=scope, window=window, count__lt=cap).update(
        count=F("count") + 1
    )
    if taken:
        return True
    if SendCounter.objects.filter(scope=scope, window=window).exists():
        return False  # the cap is reached
    try:
        with transaction.atomic():
            SendCounter.objects.create(scope=scope, window=window, count=1)
        return True
    except IntegrityError:
        # Another request created the row first: take from it like everyone else.
        return bool(
            SendCounter.objects.filter(scope=scope, window=window, count__lt=cap).update(
                count=F("count") + 1
            )
        )


def take_send(user: User, now: datetime) -> str | None:
    """Count one code against every cap; answer the scope that refused, or None.

    Call inside a transaction: a refusal rolls back what the other scopes counted.
    """
    caps = settings.DESKGATE_SEND_CAPS
    window = now.replace(minute=0, second=0, microsecond=0)
    for scope, key in (
        ("user", f"user:{user.pk}"),
        ("client", f"client:{user.client_id}"),
        ("platform", "platform"),
    ):
        if not _take(key, window, int(caps[scope])):
            return scope
    return None
