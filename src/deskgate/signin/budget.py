"""The budget of password attempts per client address and per network, taken before the
password is hashed, so that a flood of guesses cannot spend the server's CPU.

Each scope (the address; its /24 for IPv4, its /56 for IPv6) is a counter row per window,
taken with one conditional UPSERT as in `caps.py`: parallel requests on any number of
processes cannot exceed it. A sign-in whose password is right gives its attempt back, so
the budget is one of failed (and in-flight) attempts: a whole office behind one address
signing in at shift start does not spend it; a few typos do not either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.db import connection
from django.db.models import F
from django.utils import timezone

from deskgate.accounts import audit
from deskgate.accounts.models import AuditAction
from deskgate.signin.app_settings import app_settings
from deskgate.signin.models import AttemptCounter

IPV4_NETWORK = 24
IPV6_NETWORK = 56


class Scope(StrEnum):
    ADDRESS = "ip"
    NETWORK = "network"


@dataclass(frozen=True)
class Taken:
    """The outcome of taking one attempt: the scope that refused it, if any."""

    window: datetime
    keys: tuple[str, ...]  # the counters it counted against, to give back
    refused_by: Scope | None = None

    @property
    def allowed(self) -> bool:
        return self.refused_by is None


_TABLE = AttemptCounter._meta.db_table
_UPSERT = f"""
INSERT INTO {_TABLE} (scope, "window", count, given_back, refusal_recorded)
VALUES (%s, %s, 1, 0, %s)
ON CONFLICT (scope, "window") DO UPDATE SET count = {_TABLE}.count + 1
WHERE {_TABLE}.count - {_TABLE}.given_back < %s
RETURNING count
"""  # noqa: S608  # the table name is ours; the values are parameters


def scopes(ip: str | None) -> list[tuple[Scope, str]]:
    """The counters one request counts against: its address and its network.

    The address is REMOTE_ADDR (`deskgate.http.actors.client_ip`); an IPv4-mapped IPv6
    address counts as the IPv4 address it maps. A request without a readable address shares
    one counter with all others like it.
    """
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return [(Scope.ADDRESS, "ip:unknown"), (Scope.NETWORK, "net:unknown")]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_NETWORK if address.version == 4 else IPV6_NETWORK
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return [(Scope.ADDRESS, f"ip:{address.compressed}"), (Scope.NETWORK, f"net:{network}")]


def window_of(now: datetime) -> datetime:
    length = app_settings.SIGNIN_BUDGET.window
    start = int(now.timestamp()) // length * length
    return datetime.fromtimestamp(start, tz=UTC)


def _take(key: str, window: datetime, cap: int) -> int | None:
    """Count one against the key's window unless it is at the cap: one statement.

    INSERT ... ON CONFLICT DO UPDATE ... WHERE is atomic on PostgreSQL and SQLite (3.35+).
    Answers the window's count of attempts so far (1: this one opened the window), or
    None when the budget is spent.
    """
    stamp = connection.ops.adapt_datetimefield_value(window)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, stamp, False, cap])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _give_back(keys: Sequence[str], window: datetime) -> None:
    AttemptCounter.objects.filter(scope__in=keys, window=window).update(
        given_back=F("given_back") + 1
    )


def take(ip: str | None, *, by: audit.Actor) -> Taken:
    """Count one password attempt against the address's and the network's budget.

    Call before hashing; when refused, hash nothing and answer as for a wrong password.
    The first refusal of a window is audited (once per scope and window).
    """
    conf = app_settings.SIGNIN_BUDGET
    caps = {Scope.ADDRESS: conf.ip, Scope.NETWORK: conf.network}
    window = window_of(timezone.now())
    keys = scopes(ip)
    counted: list[str] = []
    opened: list[str] = []
    refused: tuple[Scope, str] | None = None
    for scope, key in keys:
        taken = _take(key, window, caps[scope])
        if taken is None:
            refused = (scope, key)
            break
        counted.append(key)
        if taken == 1:
            opened.append(key)
    if opened:  # the first attempt of a new window: these scopes' older rows are spent
        AttemptCounter.objects.filter(scope__in=opened, window__lt=window).delete()
    if refused is None:
        return Taken(window, tuple(counted))
    if counted:  # a refused attempt counts nowhere: the address's count is given back
        _give_back(counted, window)
    scope, key = refused
    if AttemptCounter.objects.filter(scope=key, window=window, refusal_recorded=False).update(
        refusal_recorded=True
    ):
        _record_pause(scope, key, window, caps[scope], by)
    return Taken(window, (), refused_by=scope)


def _record_pause(scope: Scope, key: str, window: datetime, cap: int, by: audit.Actor) -> None:
    length = app_settings.SIGNIN_BUDGET.window
    until = window + timedelta(seconds=length)
    where = key.split(":", 1)[1]
    audit.record(
        AuditAction.SIGNIN_PAUSED,
        client=None,
        by=by,
        summary=f"Password sign-ins from {'network ' if scope == Scope.NETWORK else ''}"
        f"{where} paused until {until:%H:%M} UTC: {cap} failed tries within "
        f"{length // 60} minutes",
        scope=str(scope),
        source=where,
        until=until.isoformat(),
    )


def give_back(taken: Taken) -> None:
    """The attempt's password was right: it does not count against the budget."""
    if taken.keys:
        _give_back(taken.keys, taken.window)
