"""The accounts app's settings, typed: what each one in `deskgate/settings.py` means.

    from deskgate.accounts.app_settings import app_settings
    app_settings.IDLE_TIMEOUT.admin_pages  # seconds

Every property reads `django.conf.settings` when it is asked (tests change a setting with
pytest-django's `settings` fixture). A value of the wrong type or out of range raises
`ImproperlyConfigured` naming the setting; the system check in `accounts/checks.py` asks
every property at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from deskgate.typed_settings import Reader, problems, setting


@dataclass(frozen=True)
class IdleTimeout:
    """DESKGATE_IDLE_TIMEOUT: seconds without a request after which a session ends."""

    admin_pages: int  # whoever may open the admin pages (30 minutes, as the vendor has it)
    other: int  # everyone else


@dataclass(frozen=True)
class PasswordHashCost:
    """DESKGATE_PASSWORD_HASH: argon2id's cost (`accounts.hashers`); a change rehashes each
    password at its owner's next sign-in."""

    memory_cost: int  # KiB
    time_cost: int  # passes
    parallelism: int  # lanes


@dataclass(frozen=True)
class AppSettings:
    """The accounts app's settings; see the module's docstring."""

    @property
    def IDLE_TIMEOUT(self) -> IdleTimeout:  # noqa: N802  # named as the setting, as allauth does
        conf = Reader("DESKGATE_IDLE_TIMEOUT")
        return IdleTimeout(
            admin_pages=conf.number("admin_pages", least=1),
            other=conf.number("other", least=1),
        )

    @property
    def PASSWORD_HASH(self) -> PasswordHashCost:  # noqa: N802
        conf = Reader("DESKGATE_PASSWORD_HASH")
        return PasswordHashCost(
            memory_cost=conf.number("memory_cost", least=8),  # argon2's least
            time_cost=conf.number("time_cost", least=1),
            parallelism=conf.number("parallelism", least=1),
        )

    @property
    def GEOIP_DB(self) -> str:  # noqa: N802
        """DESKGATE_GEOIP_DB: the path of a MaxMind-format database that names the place of
        an address (`accounts.places`); "" when there is none."""
        value = setting("DESKGATE_GEOIP_DB") or ""
        if not isinstance(value, str | os.PathLike):
            raise ImproperlyConfigured(f"DESKGATE_GEOIP_DB must be a file path, not {value!r}.")
        return os.fspath(value)

    def check(self) -> list[str]:
        """Every problem with the settings, in words that name the setting (start-up)."""
        return problems(self, ("IDLE_TIMEOUT", "PASSWORD_HASH", "GEOIP_DB"))


app_settings = AppSettings()
