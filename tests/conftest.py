"""Shared fixtures: factories that build data with the product's own actions."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from deskgate.delivery import connections
from tests.harness.fixtures import (  # noqa: F401
    dns_server,
    kannel,
    redis_server,
    slow_smtp_server,
    sms_gateway,
    smtp,
    smtp_server,
)
from tests.harness.oidc_fixtures import (  # noqa: F401
    oidc_claims_conform,
    oidc_provider,
    oidc_provider_config,
)

PASSWORD = "correct horse battery staple"
VERA_PHONE = "+358401110005"
_seq = itertools.count(1)


def need(available: bool, what: str) -> None:
    """Skip a test whose outside part is missing on a newcomer's machine; in CI, fail.

    `.ci/run` sets DESKGATE_REQUIRE_ALL=1, so nothing is skipped there for that reason.
    """
    if available:
        return
    if os.environ.get("DESKGATE_REQUIRE_ALL") == "1":
        pytest.fail(f"missing in CI: {what}")
    pytest.skip(f"needs {what}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before any fixture ends (the database's above all), let the reset mail worker, the
    alerts worker and the back-channel logout worker finish what a test queued: their
    threads must not write into an emptied database."""
    from deskgate.accounts import alerts
    from deskgate.provider import logout
    from deskgate.signin import reset_delivery

    assert reset_delivery.worker.wait_idle(timeout=120), "the reset mail worker did not finish"
    assert logout.worker.wait_idle(timeout=60), "the logout worker did not finish"
    assert alerts.worker.wait_idle(timeout=60), "the alerts worker did not finish"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings: Any) -> None:
    # The product's cost is argon2id at 19 MiB; the tests check behaviour, not cost.
    settings.DESKGATE_PASSWORD_HASH = {"memory_cost": 8, "time_cost": 1, "parallelism": 1}


@pytest.fixture(autouse=True)
def _sso_providers_on_loopback(settings: Any) -> None:
    # The test providers (tests/harness/oidc*.py) serve plain http on 127.0.0.1, which the
    # product refuses unless the operator allows it for development (as `make sso-demo`
    # does). The SSRF tests switch it off again to see the refusal.
    settings.DESKGATE_SSO = {**settings.DESKGATE_SSO, "allow_http_loopback": True}


@pytest.fixture(autouse=True)
def _no_kept_mail_connection_outlives_a_test() -> Iterator[None]:
    # The product keeps one connection to the mail server (and to Kannel) per thread
    # (deskgate.delivery.connections). A test's servers stop with the test: the test's
    # connection closes with it, not later in another test's log capture.
    yield
    connections.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], datetime]:
    """Django's clock, stopped, and moved forward only by the given amount (cumulative);
    answers the time it is then. `clock(timedelta())` reads it.

    Stopped, not running with an offset: on a loaded machine a running clock adds its own
    seconds between two readings, and durations measured against it drift. The patch is on
    the module every caller reads `timezone.now` from, so the live server's threads (and
    the reset mail worker's) see it too; a server in another process does not (those
    tests keep the real clock). The password-reset links' clock (Django's token
    generator reads a naive `datetime.now()`) is moved with it.
    """
    base = timezone.now()
    naive_base = datetime.now()  # noqa: DTZ005  # Django's token clock is naive local time
    offset = timedelta()

    def advance(by: timedelta) -> datetime:
        nonlocal offset
        offset += by
        return base + offset

    monkeypatch.setattr(timezone, "now", lambda: base + offset)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: naive_base + offset)
    return advance


@pytest.fixture
def tenant_factory(db: None) -> Callable[..., Client]:
    def make(name: str | None = None, release: str = "25.4", country: str = "FI") -> Client:
        return actions.create_client(name or f"Client {next(_seq)}", release, country, by=OPERATOR)

    return make


@pytest.fixture
def tenant(tenant_factory: Callable[..., Client]) -> Client:
    return tenant_factory("Northwind", "25.4")


@pytest.fixture
def legacy_tenant(tenant_factory: Callable[..., Client]) -> Client:
    return tenant_factory("Legacy", "11.8")


@pytest.fixture
def user_factory(db: None, tenant: Client) -> Callable[..., User]:
    def make(
        level: str = "agent",
        mfa: str = "off",
        *,
        client: Client | None = None,
        username: str | None = None,
        full_name: str | None = None,
        email: str | None = None,
        work_phone: str | None = None,
        active: bool = True,
        password: str | None = PASSWORD,
        temporary: bool = False,
    ) -> User:
        n = next(_seq)
        username = username or f"{level}{n}"
        if email is None:
            email = f"{username}@example.com"
        if work_phone is None:
            work_phone = f"+35840{n:07d}"
        saved = actions.create_user(
            client or tenant,
            actions.UserInput(
                username=username,
                full_name=full_name or f"{level.title()} Person{n}",
                level=level,
                email=email,
                work_phone=work_phone,
                mfa_method=mfa,
                is_active=active,
            ),
            by=OPERATOR,
            password=password,
            temporary_password=temporary,
        )
        return saved.user

    return make


def sign_in(http: HttpClient, user: User, password: str = PASSWORD) -> Any:
    """Post the password page, as a browser would (the first step of signing in)."""
    return http.post("/signin/", {"username": user.username, "password": password})


def signed_in_client(user: User, password: str = PASSWORD) -> HttpClient:
    """A browser signed in as `user` through the real sign-in: the password page, then the
    code step with the code the product delivered, when one is owed."""
    from tests.mailbox import last_code

    http = HttpClient()
    response = sign_in(http, user, password)
    assert response.status_code == 302, response.content[:500]
    if response["Location"] == "/signin/code/":
        response = http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
        assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/", response["Location"]
    return http


@pytest.fixture
def signed_in(db: None) -> Callable[..., HttpClient]:
    """signed_in(user) is a Django test client signed in as `user` (see signed_in_client)."""
    return signed_in_client


@pytest.fixture
def admin_user(user_factory: Callable[..., User]) -> User:
    return user_factory("admin", username="anna.admin", full_name="Anna Admin")


@pytest.fixture
def vera(user_factory: Callable[..., User]) -> User:
    """An agent of the tenant without MFA, with an address and a number the tests can name."""
    return user_factory(
        "agent",
        username="vera.agent",
        full_name="Vera Agent",
        email="vera@northwind.example",
        work_phone=VERA_PHONE,
    )


@pytest.fixture
def admin_http(admin_user: User) -> HttpClient:
    return signed_in_client(admin_user)
