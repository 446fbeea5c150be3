"""Reading Django settings into typed values: the parts every app's `app_settings` shares.

An app's `app_settings.py` (as in allauth) has one property per setting; each property reads
`django.conf.settings` when it is asked, so tests change a setting with pytest-django's
`settings` fixture. `Reader` reads one dict setting and `number`, `seconds`, `flag` one
value; a value of the wrong type or out of range raises `ImproperlyConfigured` naming the
setting (and the key). `problems` asks every property once: the app's start-up check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def setting(name: str) -> Any:
    """The setting's value as it is now; None when it is not set."""
    return getattr(settings, name, None)


class Reader:
    """Reads one dict setting, naming it (and the key) in every complaint."""

    def __init__(self, name: str) -> None:
        self.name = name
        value = setting(name)
        if not isinstance(value, Mapping):
            raise ImproperlyConfigured(f"{name} must be a dict of settings, not {value!r}.")
        self.conf: Mapping[str, Any] = value

    def _raw(self, key: str) -> Any:
        if key not in self.conf:
            raise ImproperlyConfigured(f"{self.name} has no {key!r}.")
        return self.conf[key]

    def _where(self, key: str) -> str:
        return f"{self.name}[{key!r}]"

    def number(self, key: str, *, least: int, most: int | None = None) -> int:
        return number(self._raw(key), self._where(key), least=least, most=most)

    def numbers(self, key: str, *, least: int, allow_empty: bool = False) -> tuple[int, ...]:
        raw = self._raw(key)
        where = self._where(key)
        if isinstance(raw, str | bytes) or not hasattr(raw, "__iter__"):
            raise ImproperlyConfigured(f"{where} must be a list of whole numbers, not {raw!r}.")
        values = tuple(number(item, where, least=least) for item in raw)
        if not values and not allow_empty:
            raise ImproperlyConfigured(f"{where} must list at least one value.")
        return values

    def seconds(self, key: str, *, least: float, above: bool = False) -> float:
        return seconds(self._raw(key), self._where(key), least=least, above=above)

    def flag(self, key: str) -> bool:
        return flag(self._raw(key), self._where(key))

    def words(self, key: str) -> tuple[str, ...]:
        """A list of strings (host names, say); empty is fine."""
        raw = self._raw(key)
        if isinstance(raw, str | bytes) or not hasattr(raw, "__iter__"):
            raise ImproperlyConfigured(f"{self._where(key)} must be a list, not {raw!r}.")
        values = tuple(raw)
        for item in values:
            if not isinstance(item, str):
                raise ImproperlyConfigured(f"{self._where(key)} must list strings, not {item!r}.")
        return values


def number(raw: Any, where: str, *, least: int, most: int | None = None) -> int:
    """A whole number (or its digits as a string) within bounds."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ImproperlyConfigured(f"{where} must be a whole number, not {raw!r}.")
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{where} must be a whole number, not {raw!r}.") from None
    if value < least:
        raise ImproperlyConfigured(f"{where} must be at least {least}, not {value}.")
    if most is not None and value > most:
        raise ImproperlyConfigured(f"{where} must be at most {most}, not {value}.")
    return value


def seconds(raw: Any, where: str, *, least: float, above: bool = False) -> float:
    """A duration in seconds, whole or not: at least `least` (more than it when `above`)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ImproperlyConfigured(f"{where} must be a number of seconds, not {raw!r}.")
    value = float(raw)
    if value < least or (above and value == least):
        bound = "more than" if above else "at least"
        raise ImproperlyConfigured(f"{where} must be {bound} {least:g} seconds, not {raw!r}.")
    return value


def flag(raw: Any, where: str) -> bool:
    """True or False, nothing that merely looks like one."""
    if not isinstance(raw, bool):
        raise ImproperlyConfigured(f"{where} must be True or False, not {raw!r}.")
    return raw


def problems(app_settings: object, names: Iterable[str]) -> list[str]:
    """Every problem with the named properties of `app_settings`, in words naming the setting."""
    found = []
    for name in names:
        try:
            getattr(app_settings, name)
        except ImproperlyConfigured as exc:
            found.append(str(exc))
    return found
