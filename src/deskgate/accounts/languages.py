"""Which language and time zone a person reads Deskgate in.

A user's own choice, else their client's default, else (for language) the browser's
`Accept-Language` and (for the zone) the installation's TIME_ZONE (UTC). Pages activate them
(`deskgate.http.middleware.PreferencesMiddleware`); messages to a person (codes, notices,
links) are written inside `in_language_of(recipient)`, so they go out in the recipient's
language whoever caused them.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

if TYPE_CHECKING:
    from deskgate.accounts.models import Client, User


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def language_choices() -> list[tuple[str, str]]:
    """Each language named in itself, as people look for their own ("Suomi", "Svenska")."""
    return [(code, str(name)) for code, name in settings.LANGUAGE_NAMES_IN_THEMSELVES]


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_names() -> list[str]:
    """The IANA zone names a person may choose, sorted (Europe/Helsinki, Europe/Stockholm...)."""
    return sorted(_zones())


def check_language(code: str, *, field: str) -> str | None:
    """None when `code` is a language Deskgate speaks (or "" for the default), else why not."""
    if code == "" or code in language_codes():
        return None
    names = ", ".join(str(name) for _code, name in settings.LANGUAGE_NAMES_IN_THEMSELVES)
    return gettext("Choose one of the languages Deskgate speaks: %(names)s.") % {"names": names}


def check_time_zone(name: str) -> str | None:
    """None when `name` is a known IANA time zone (or "" for the default), else why not."""
    if name == "" or name in _zones():
        return None
    return gettext(
        "%(name)s is not a time zone Deskgate knows. Choose one from the list, such as "
        "Europe/Helsinki or Europe/Stockholm."
    ) % {"name": name}


def language_of(user: User) -> str | None:
    """The user's own language, else their client's default; None leaves it to the browser."""
    return user.language or user.client.default_language or None


def zone_name_of(user: User) -> str:
    """The user's zone, else their company's, else the installation's (TIME_ZONE, UTC)."""
    return user.time_zone or user.client.time_zone or settings.TIME_ZONE


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    name = zone_name_of(user)
    return zoneinfo.ZoneInfo(name if name in _zones() else settings.TIME_ZONE)


def client_zone(client: Client) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(
        client.time_zone if client.time_zone in _zones() else settings.TIME_ZONE
    )


@contextmanager
def in_language_of(user: User, *, fallback: str | None = None) -> Iterator[None]:
    """Write a message to `user` in their language. `fallback` (for the user's own
    request, the language their browser asked for) applies when neither the user nor their
    client chose one; otherwise English, Deskgate's default."""
    with translation.override(language_of(user) or fallback or settings.LANGUAGE_CODE):
        yield
