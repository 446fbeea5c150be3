"""Hourly caps on codes sent, per user, per client and for the platform.

Each cap is a counter row per hourly window, taken with one conditional UPDATE, so
parallel requests on any number of processes cannot exceed it.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection

from deskgate.accounts.models import User
from deskgate.signin.models import SendCounter

SCOPE_MESSAGES = {
    "user": "Too many codes were sent to you in the last hour. Try again later, or ask your "
    "admin for help.",
    "client": "Your company has reached its limit of codes per hour. Try again later, or ask "
    "your admin.",
    "platform": "Deskgate is sending too many codes right now. Try again in a few minutes.",
}


_TABLE = SendCounter._meta.db_table
_UPSERT = f"""
INSERT INTO {_TABLE} (scope, "window", count) VALUES (%s, %s, 1)
ON CONFLICT (scope, "window") DO UPDATE SET count = {_TABLE}.count + 1
WHERE {_TABLE}.count < %s
RETURNING count
"""  # noqa: S608  # the table name is ours; the values are parameters


def _take(scope: str, window: datetime, cap: int) -> bool:
    """Count one against the scope's window unless it is at the cap: one statement.

    INSERT ... ON CONFLICT DO UPDATE ... WHERE is atomic on PostgreSQL and SQLite (3.35+):
    the first send of the hour creates the row, later ones add to it while under the cap,
    and a capped attempt returns no row.
    """
    if cap < 1:
        return False
    with connection.cursor() as cursor:
        stamp = connection.ops.adapt_datetimefield_value(window)
        cursor.execute(_UPSERT, [scope, stamp, cap])
        return cursor.fetchone() is not None


def take(scope: str, now: datetime, cap: int) -> bool:
    """Count one against `scope` in the current clock hour, unless it is at `cap`."""
    return _take(scope, now.replace(minute=0, second=0, microsecond=0), cap)


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
