"""The SSO app's settings, typed: what DESKGATE_SSO in `deskgate/settings.py` means.

    from deskgate.sso.app_settings import app_settings
    app_settings.SSO.fetch_seconds

Every property reads `django.conf.settings` when it is asked (tests change a setting with
pytest-django's `settings` fixture). A value of the wrong type or out of range raises
`ImproperlyConfigured` naming the setting; the system check in `sso/checks.py` asks every
property at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from deskgate.typed_settings import Reader, problems


@dataclass(frozen=True)
class SsoPolicy:
    """DESKGATE_SSO: how the server talks to clients' identity providers (`sso.fetch`,
    `sso.provider`)."""

    allow_http_loopback: bool  # http:// to a provider on loopback: development and tests only
    endpoint_hosts: tuple[str, ...]  # hosts besides the issuer's own that may serve endpoints
    fetch_seconds: float  # the whole of one request to a provider, DNS included
    failure_seconds: int  # a failed lookup is not repeated for this long
    lease_wait_seconds: float  # how long others wait for the one process asking
    dns_servers: tuple[tuple[str, int], ...]  # asked for domain verification; () the system's


def _servers(conf: Reader) -> tuple[tuple[str, int], ...]:
    servers = []
    for item in conf.conf.get("dns_servers", ()):
        if not (
            isinstance(item, tuple | list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
        ):
            raise ImproperlyConfigured(
                f"DESKGATE_SSO['dns_servers'] must list (address, port) pairs, not {item!r}."
            )
        servers.append((item[0], item[1]))
    return tuple(servers)


@dataclass(frozen=True)
class AppSettings:
    """The SSO app's settings; see the module's docstring."""

    @property
    def SSO(self) -> SsoPolicy:  # noqa: N802  # named as the setting, as allauth does
        conf = Reader("DESKGATE_SSO")
        return SsoPolicy(
            allow_http_loopback=conf.flag("allow_http_loopback"),
            endpoint_hosts=conf.words("endpoint_hosts"),
            fetch_seconds=conf.seconds("fetch_seconds", least=0, above=True),
            failure_seconds=conf.number("failure_seconds", least=1),
            lease_wait_seconds=conf.seconds("lease_wait_seconds", least=0),
            dns_servers=_servers(conf),
        )

    def check(self) -> list[str]:
        """Every problem with the settings, in words that name the setting (start-up)."""
        return problems(self, ("SSO",))


app_settings = AppSettings()
