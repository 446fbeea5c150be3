"""Browser tests: Debian's Chromium driven through Playwright's sync API.

The pages are driven as a person would: by labels, roles and visible text, never CSS paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from deskgate.conf import parse_sms_url
from deskgate.sso import flows
from tests.browser import a11y
from tests.conftest import PASSWORD, need
from tests.harness.kannel import Kannel
from tests.harness.smtp import SmtpServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The secret of the test OpenID Connect provider's client "deskgate-test" (tests/harness/oidc.py).
SSO_SECRET = "test-secret-0123456789"  # noqa: S105  # a test provider's fixed secret
# Set DESKGATE_SCREENSHOTS=/some/dir to keep one screenshot per test there.
SCREENSHOTS = os.environ.get("DESKGATE_SCREENSHOTS", "")


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    need(os.path.exists(CHROMIUM), "Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio event loop in this thread (in a greenlet) for as
    # long as it is started, so Django sees "a running event loop" and raises
    # SynchronousOnlyOperation on every ORM call made here: the tests' own data set-up and
    # checks, and transactional_db's flush afterwards. Nothing here is async, so the check
    # is switched off, but only while Playwright runs; the other tests keep it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def axe(request: pytest.FixtureRequest) -> Iterator[a11y.Audit]:
    """axe-core checks every state of the watched tabs (`axe.watch(tab, origin)`) before each
    action of the test and at its end; any violation fails the test (tests/browser/a11y.py)."""
    need(a11y.AXE_JS.is_file(), "axe-core: make setup (npm ci --prefix tests/a11y)")
    audit = a11y.load()
    request.node.axe_audit = audit
    with a11y.hooked(audit):
        yield audit


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test that passed, the state it ended in is checked too, then every violation
    found on the way fails it (a failing test keeps its own failure)."""
    result = yield
    audit: a11y.Audit | None = getattr(item, "axe_audit", None)
    if audit is not None:
        audit.check("at the end of the test")
        audit.assert_clean()
    return result


@pytest.fixture
def page(chromium: Any, live_server: Any, transactional_db: None, axe: a11y.Audit) -> Iterator[Any]:
    """A fresh browser tab (own cookies) on the live server; its base URL is the server's.
    axe-core checks its every state."""
    # The live server speaks plain http on localhost. Chromium does keep Secure cookies set
    # by http://localhost (it counts as a secure context), so the product's Secure session and
    # CSRF cookies work unchanged here; no override of SESSION/CSRF_COOKIE_SECURE is needed.
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(5_000)
    tab = context.new_page()
    axe.watch(tab, live_server.url)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def sign_in_as(page: Any) -> Callable[[User], None]:
    """Sign in through the sign-in page: User name, Password, Sign in."""
    from playwright.sync_api import expect

    def go(user: User, password: str = PASSWORD) -> None:
        page.goto("/")
        page.get_by_label("User name").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    return go


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Callable[[], None]:
    """Keep a full-page screenshot named after the test, if DESKGATE_SCREENSHOTS is set."""

    def take() -> None:
        if SCREENSHOTS:
            target = Path(SCREENSHOTS) / f"{request.node.name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            page.wait_for_load_state()
            page.screenshot(path=str(target), full_page=True)

    return take


@pytest.fixture
def mail(settings: Any, smtp: SmtpServer) -> SmtpServer:
    """Codes by email go to the real SMTP server on loopback (as EMAIL_URL would say)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp


@pytest.fixture
def sms(settings: Any, sms_gateway: Kannel) -> Kannel:
    """Codes by SMS go through the real Kannel (as SMS_URL would say) to its fake SMSC."""
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    return sms_gateway


@pytest.fixture
def sso_for(oidc_provider: Any, live_server: Any, settings: Any) -> Callable[..., Client]:
    """sso_for(client, mandatory=..., require_idp_mfa=...) turns on the client's SSO with the
    test OpenID Connect provider (tests/harness/oidc.py); answers the client."""
    settings.DESKGATE_BASE_URL = live_server.url

    def configure(client: Client, **options: bool) -> Client:
        flows.configure(
            client,
            flows.SsoInput(
                issuer=oidc_provider.issuer,
                client_id="deskgate-test",
                secret=SSO_SECRET,
                mandatory=options.get("mandatory", False),
                require_idp_mfa=options.get("require_idp_mfa", False),
            ),
            by=OPERATOR,
        )
        return client

    return configure
