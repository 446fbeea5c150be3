"""Hourly caps on messages sent, per user, per client and for the platform, and the
client's SMS country allow-list: the one gate every message Deskgate sends passes.

`admit(recipient, channel, to)` answers a `Permit` or the `Refusal`; the channels
(`deskgate.delivery.channels`) send only with a permit, so a sender cannot forget the caps.
Codes, contact confirmations, notices of changed settings and password reset links all
count against the same caps.

Each cap is a counter row per hourly window, taken with one conditional UPSERT, so
parallel requests on any number of processes cannot exceed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deskgate.delivery.app_settings import app_settings
from deskgate.delivery.models import SendCounter


class Refusal(StrEnum):
    """Why a message may not be sent: a cap's scope, or the SMS country."""

    USER = "user"
    CLIENT = "client"
    PLATFORM = "platform"
    COUNTRY = "country"


SCOPE_MESSAGES = {
    "user": _(
        "Too many codes were sent to you in the last hour. Try again later, or ask your "
        "admin for help."
    ),
    "client": _(
        "Your company has reached its limit of codes per hour. Try again later, or ask your admin."
    ),
    "platform": _("Deskgate is sending too many codes right now. Try again in a few minutes."),
}


@dataclass(frozen=True)
class Recipient:
    """Whom a message is for, as the caps see it: the user, their client and its SMS
    countries (two-letter codes; empty allows every country)."""

    user_id: int
    client_id: int
    sms_countries: tuple[str, ...] = ()

    def sms_allowed_to(self, e164: str) -> bool:
        if not self.sms_countries:
            return True
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
        except phonenumbers.NumberParseException:
            return False
        return region in self.sms_countries


_ADMITTED = object()


@dataclass(frozen=True)
class Permit:
    """One message admitted by `admit`: the channel and the destination it may go to."""

    channel: str  # "email" or "sms"
    to: str
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return self._seal is _ADMITTED


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


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def take(scope: str, now: datetime, cap: int) -> bool:
    """Count one against `scope` in the current clock hour, unless it is at `cap`."""
    return _take(scope, _hour(now), cap)


class Purpose(StrEnum):
    """What a message is for. Codes and reset links let someone sign in and may use a whole
    cap; a notice (of changed settings) only tells, and may use `NOTICE_SHARE` of the
    client's and the platform's hour, so a bulk change for thousands of agents never spends
    the codes their shift start needs. A user's own cap is whole for both.

    An alert to a client's admins (a cap reached, repeated locks) counts against the
    admin's own cap only: it is bounded by its own window (one email per client per 15
    minutes), and a full client or platform hour is often what it is telling."""

    SIGN_IN = "sign-in"
    NOTICE = "notice"
    ALERT = "alert"


NOTICE_SHARE = 0.5


def _many_sql(n: int) -> str:
    """Count one against `n` scopes' windows in one statement, each under its own cap
    (a CASE on the scope): the scopes it counted come back."""
    caps = " ".join(["WHEN %s THEN %s"] * n)
    return (
        f'INSERT INTO {_TABLE} (scope, "window", count) VALUES '  # noqa: S608  # our table
        + ", ".join(["(%s, %s, 1)"] * n)
        + f' ON CONFLICT (scope, "window") DO UPDATE SET count = {_TABLE}.count + 1'
        f" WHERE {_TABLE}.count < CASE {_TABLE}.scope {caps} END RETURNING scope"
    )


_TAKE_MANY = {n: _many_sql(n) for n in (1, 3)}
_GIVE_BACK = f'UPDATE {_TABLE} SET count = count - 1 WHERE "window" = %s AND scope IN (%s, %s, %s)'  # noqa: S608  # our table


def _take_all(scopes: list[tuple[Refusal, str, int]], window: datetime) -> Refusal | None:
    """Count one against every scope, in one statement; the first scope (in order) that
    refused, if any, having given back what the others counted.

    Call inside a transaction: the counted rows stay locked until it ends, so the give-back
    of a refused message is never seen by a parallel one (as a savepoint's rollback was
    not, at two more statements for every message).
    """
    for scope, _key, cap in scopes:
        if cap < 1:  # nothing may be sent: refused before anything is counted
            return scope
    stamp = connection.ops.adapt_datetimefield_value(window)
    params: list[Any] = []
    for _scope, key, _cap in scopes:
        params += [key, stamp]
    for _scope, key, cap in scopes:
        params += [key, cap]
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_MANY[len(scopes)], params)
        counted = {str(key) for (key,) in cursor.fetchall()}
        refused = next((scope for scope, key, _cap in scopes if key not in counted), None)
        if refused is not None and counted:
            keys = [*counted, *[next(iter(counted))] * (3 - len(counted))]
            cursor.execute(_GIVE_BACK, [stamp, *keys])
    return refused


def admit(
    recipient: Recipient,
    channel: str,
    to: str,
    *,
    now: datetime | None = None,
    purpose: Purpose = Purpose.SIGN_IN,
) -> Permit | Refusal:
    """Count one message to `recipient` against every cap; a permit to send it, or why not.

    An SMS to a country the client does not allow is refused before anything is counted.
    Every cap is counted in one statement; a refusal by one scope gives back what the
    others counted, in the same transaction (the caller's, else one of its own), so a
    refused message costs nobody's allowance.
    """
    if channel == "sms" and not recipient.sms_allowed_to(to):
        return Refusal.COUNTRY
    caps = app_settings.SEND_CAPS
    window = _hour(now or timezone.now())
    share = NOTICE_SHARE if purpose is Purpose.NOTICE else 1.0
    scopes = [(Refusal.USER, f"user:{recipient.user_id}", caps.user)]
    if purpose is not Purpose.ALERT:
        scopes += [
            (Refusal.CLIENT, f"client:{recipient.client_id}", int(caps.client * share)),
            (Refusal.PLATFORM, "platform", int(caps.platform * share)),
        ]
    if connection.in_atomic_block:
        refused = _take_all(scopes, window)
    else:
        with transaction.atomic():
            refused = _take_all(scopes, window)
    return Permit(channel, to, _ADMITTED) if refused is None else refused
