"""The budget of password attempts per client address and per network, taken before the
password is hashed, so that a flood of guesses cannot spend the server's CPU.

Each scope (the address; its /24 for IPv4, its /56 for IPv6) is a counter row per window,
taken with a conditional UPSERT as in `caps.py` (both scopes in one statement): parallel
requests on any number of processes cannot exceed it. A sign-in whose password is right
gives its attempt back, so the budget is one of failed (and in-flight) attempts: a whole
office behind one address signing in at shift start does not spend it; a few typos do not
either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.db import connection
from django.utils import timezone

from deskgate import rows
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
# Both counters in one statement (issue 17), the network's row first: it is counted only
# while the address's budget is not spent (as when the address's was taken first and
# refused alone), and the subquery reads the address's row as it was before this
# statement (PostgreSQL: the statement's snapshot; SQLite: the network's row is written
# first). Each row's own cap is checked on its latest version, under its row lock.
_UPSERT = f"""
INSERT INTO {_TABLE} (scope, "window", count, given_back, refusal_recorded)
VALUES (%s, %s, 1, 0, FALSE), (%s, %s, 1, 0, FALSE)
ON CONFLICT (scope, "window") DO UPDATE SET count = {_TABLE}.count + 1
WHERE CASE WHEN {_TABLE}.scope = %s
    THEN {_TABLE}.count - {_TABLE}.given_back < %s
    ELSE {_TABLE}.count - {_TABLE}.given_back < %s AND NOT EXISTS (
        SELECT 1 FROM {_TABLE} spent WHERE spent.scope = %s AND spent."window" = %s
        AND spent.count - spent.given_back >= %s)
    END
RETURNING scope, count
"""  # noqa: S608  # the table name is ours; the values are parameters
# Giving back locks the rows in the order taking does (the network's first), so that the
# two never wait for each other in a circle: an UPDATE with `IN` locks them in the order
# it finds them, which a deadlock with a parallel take showed. The rows exist (they were
# counted); were they pruned meanwhile (a new window began), the stale row this leaves
# has nothing to give back to and goes with the next pruning.
_GIVE_BACK = {
    n: f'INSERT INTO {_TABLE} (scope, "window", count, given_back, refusal_recorded) VALUES '  # noqa: S608  # our table
    + ", ".join(["(%s, %s, 0, 1, FALSE)"] * n)
    + f' ON CONFLICT (scope, "window") DO UPDATE SET given_back = {_TABLE}.given_back + 1'
    for n in (1, 2)
}
_PRUNE = f'DELETE FROM {_TABLE} WHERE "window" < %s AND scope IN (%s, %s)'  # noqa: S608  # our table
_NOTE_REFUSAL = (
    f"UPDATE {_TABLE} SET refusal_recorded = TRUE"  # noqa: S608  # our table
    ' WHERE scope = %s AND "window" = %s AND NOT refusal_recorded'
)


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


def _take(
    keys: list[tuple[Scope, str]], window: datetime, caps: dict[Scope, int]
) -> dict[str, int]:
    """Count one against each key's window unless it is at its cap: one statement.

    INSERT ... ON CONFLICT DO UPDATE ... WHERE is atomic on PostgreSQL and SQLite (3.35+).
    Answers the window's count of attempts so far (1: this one opened the window) of each
    key it counted; a key at its cap (or the network's, behind a spent address) is not in
    it.
    """
    (_, address), (_, network) = keys
    stamp = connection.ops.adapt_datetimefield_value(window)
    params = [network, stamp, address, stamp, address, caps[Scope.ADDRESS]]
    params += [caps[Scope.NETWORK], address, stamp, caps[Scope.ADDRESS]]
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, params)
        return {str(scope): int(count) for scope, count in cursor.fetchall()}


def _keys_of(keys: Sequence[str]) -> tuple[str, str]:
    """Two keys for the statements' `IN (%s, %s)` (one repeated when there is one)."""
    return (keys[0], keys[-1])


def _give_back(keys: Sequence[str], window: datetime, *, later: bool = False) -> None:
    """Give one back to these keys (in `scopes` order: the address's, the network's);
    `later`: with the block's other writes (`rows.waiting`)."""
    stamp = connection.ops.adapt_datetimefield_value(window)
    params = [value for key in reversed(keys) for value in (key, stamp)]
    rows.write(_GIVE_BACK[len(keys)], params, later=later)


def take(ip: str | None, *, by: audit.Actor) -> Taken:
    """Count one password attempt against the address's and the network's budget.

    Call before hashing; when refused, hash nothing and answer as for a wrong password.
    The first refusal of a window is audited (once per scope and window).
    """
    conf = app_settings.SIGNIN_BUDGET
    caps = {Scope.ADDRESS: conf.ip, Scope.NETWORK: conf.network}
    window = window_of(timezone.now())
    keys = scopes(ip)
    taken = _take(keys, window, caps)
    counted = [key for _, key in keys if key in taken]
    opened = [key for key in counted if taken[key] == 1]
    refused = next(((scope, key) for scope, key in keys if key not in taken), None)
    if opened:  # the first attempt of a new window: these scopes' older rows are spent
        stamp = connection.ops.adapt_datetimefield_value(window)
        with connection.cursor() as cursor:
            cursor.execute(_PRUNE, [stamp, *_keys_of(opened)])
    if refused is None:
        return Taken(window, tuple(counted))
    if counted:  # a refused attempt counts nowhere: what was counted is given back
        _give_back(counted, window)
    scope, key = refused
    with connection.cursor() as cursor:
        cursor.execute(_NOTE_REFUSAL, [key, connection.ops.adapt_datetimefield_value(window)])
        first_refusal = cursor.rowcount > 0
    if first_refusal:
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
        _give_back(taken.keys, taken.window, later=True)
