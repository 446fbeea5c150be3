"""The place of an IP address as a person reads it: "Helsinki, Finland".

geoip2 (MaxMind's own reader) reads a MaxMind-format database that the operator keeps at
DESKGATE_GEOIP_DB: GeoLite2-City or GeoLite2-Country (free, with a MaxMind account), or the
paid GeoIP2 ones. MaxMind's `geoipupdate` replaces the file in place; the reader here
follows a replaced file at its next lookup.

Without a database, for an address it does not know, or when the file cannot be read, the
place is "Unknown": a place is a hint on the sessions pages, never a reason for an error.
Addresses of private, loopback and link-local networks are "Local network" (a database
knows nothing of them).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import geoip2.database
import geoip2.errors
from django.utils import translation
from django.utils.translation import gettext

from deskgate.accounts.app_settings import app_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Database:
    key: tuple[str, int, int]  # path, modification time, size: a replaced file differs
    reader: geoip2.database.Reader
    has_cities: bool


_lock = threading.Lock()
_open: _Database | None = None
_warned: set[tuple[str, int, int] | str] = set()


def _warn_once(key: tuple[str, int, int] | str, message: str, *args: object) -> None:
    # A broken database would otherwise log on every page that shows a session.
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def _database(path: str) -> _Database | None:
    global _open  # noqa: PLW0603  # one open database per process, reopened when replaced
    try:
        stat = os.stat(path)
    except OSError as exc:
        _warn_once(path, "DESKGATE_GEOIP_DB %s cannot be read (%s): places are unknown", path, exc)
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    current = _open
    if current is not None and current.key == key:
        return current
    with _lock:
        if _open is not None and _open.key == key:
            return _open
        try:
            reader = geoip2.database.Reader(path)
            kind = reader.metadata().database_type
        except (OSError, ValueError, RuntimeError) as exc:  # InvalidDatabaseError: RuntimeError
            _warn_once(key, "DESKGATE_GEOIP_DB %s is not a MaxMind database (%s)", path, exc)
            return None
        _open = _Database(key=key, reader=reader, has_cities="City" in kind)
        return _open


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_private or address.is_loopback or address.is_link_local


def _name(names: Any, language: str) -> str:
    """A place's name in the reader's language if the database has it, else in English."""
    if not isinstance(names, dict):
        return ""
    return str(names.get(language) or names.get("en") or "")


def place_of(ip: str | None) -> str:
    """Where `ip` is, in the active language: "Helsinki, Finland", "Finland", "Local
    network" or "Unknown". Never raises."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return gettext("Unknown")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if _local(address):
        return gettext("Local network")
    path = app_settings.GEOIP_DB
    database = _database(path) if path else None
    if database is None:
        return gettext("Unknown")
    try:
        if database.has_cities:
            in_city = database.reader.city(str(address))
            city = _name(in_city.city.names, _language())
            country = _name(in_city.country.names, _language())
        else:
            city = ""
            country = _name(database.reader.country(str(address)).country.names, _language())
    except geoip2.errors.AddressNotFoundError:
        return gettext("Unknown")
    except (ValueError, TypeError, RuntimeError, OSError) as exc:  # a damaged file
        _warn_once(database.key, "DESKGATE_GEOIP_DB %s could not be read (%s)", path, exc)
        return gettext("Unknown")
    if city and country:
        return gettext("%(city)s, %(country)s") % {"city": city, "country": country}
    return country or gettext("Unknown")


def _language() -> str:
    # MaxMind names places in en, de, es, fr, ja, pt-BR, ru and zh-CN: Finnish and Swedish
    # readers get the English names.
    return translation.get_language() or "en"
