"""pytest fixtures that run the harness servers. Make them available by importing them, in
tests/conftest.py (with `# noqa: F401`, as pytest finds fixtures by name):

    from tests.harness.fixtures import (kannel, redis_server, slow_smtp_server, sms_gateway,
                                        smtp, smtp_server)

Session-scoped (started once, on first use): `smtp_server`, `kannel`.
Function-scoped, cleared before the test: `smtp` (the smtp_server), `sms_gateway` (the kannel).
Per test: `dns_server`, an authoritative DNS server on loopback that the product's SSO
domain verification asks (DESKGATE_SSO['dns_servers'] points at it); `slow_smtp_server`,
a socket that accepts and never answers; `redis_server`, a
Redis of its own on loopback (the test may stop and restart it).

They only start servers; a test points the product at them, e.g. with pytest-django's
`settings`: EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST/EMAIL_PORT
from `smtp.host`/`smtp.port` (or parse `smtp.url` as EMAIL_URL), and the Kannel setting from
`sms_gateway.url` ("kannel://user:pass@127.0.0.1:<port>", as SMS_URL).
For SMTP AUTH, start one ad hoc: `with SmtpServer(username="u", password="p") as server:`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.dns import DnsServer
from tests.harness.kannel import INSTALL_HINT, Kannel, kannel_missing
from tests.harness.redis import INSTALL_HINT as REDIS_INSTALL_HINT
from tests.harness.redis import RedisServer, redis_missing
from tests.harness.smtp import SlowSmtpServer, SmtpServer

__all__ = [
    "dns_server",
    "kannel",
    "redis_server",
    "slow_smtp_server",
    "sms_gateway",
    "smtp",
    "smtp_server",
]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The session's SMTP server, emptied for this test."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def slow_smtp_server() -> Iterator[SlowSmtpServer]:
    server = SlowSmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kannel() -> Iterator[Kannel]:
    # Imported here, not at the top: tests/conftest.py imports this module while it is
    # itself still being imported, before `need` exists.
    from tests.conftest import need

    need(not kannel_missing(), INSTALL_HINT)
    instance = Kannel().start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def sms_gateway(kannel: Kannel) -> Kannel:
    """The session's Kannel, with no messages from earlier tests."""
    kannel.clear()
    return kannel


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    from tests.conftest import need

    need(not redis_missing(), REDIS_INSTALL_HINT)
    with RedisServer() as server:
        yield server


@pytest.fixture
def dns_server(settings: Any) -> Iterator[DnsServer]:
    """A DNS server of this test's own, and the product asking it (and only it)."""
    with DnsServer() as server:
        settings.DESKGATE_SSO = {**settings.DESKGATE_SSO, "dns_servers": [server.address]}
        yield server
