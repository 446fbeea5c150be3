"""The demo's Agent desktop (`make app-demo`) against a live Deskgate, in Chromium (issue 12).

Deskgate is the real server (gunicorn, tests/harness/gunicorn.py) on this test's database,
sending SMS codes through the real Kannel; the Agent desktop (tests/harness/app_demo.py,
Authlib's OpenID Connect client) runs on a free port, registered as `make run` registers
it. A person signs in through the app, sees what the sign-in checked, and signs out of
both; signing out in Deskgate ends the app's session by back-channel logout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, expect

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.provider import registry
from tests.browser import a11y
from tests.conftest import PASSWORD
from tests.harness.app_demo import AgentDesktop, Settings
from tests.harness.gunicorn import HASH, Gunicorn, server_env
from tests.harness.kannel import Kannel
from tests.harness.net import LOOPBACK, free_ports
from tests.mailbox import code_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deskgate(
    transactional_db: None, settings: Any, sms_gateway: Kannel, tmp_path: Path
) -> Iterator[Gunicorn]:
    """The real server, SMS codes through Kannel; users are hashed at its cost."""
    settings.DESKGATE_PASSWORD_HASH = HASH
    port = free_ports(1)[0]
    # The access log goes to deskgate.log in the test's tmp_path, for a failure's post-mortem.
    env = server_env(port, SMS_URL=sms_gateway.url, GUNICORN_CMD_ARGS="--access-logfile -")
    connection.close()
    with Gunicorn(env, tmp_path / "deskgate.log") as server:
        yield server


@pytest.fixture
def desktop(deskgate: Gunicorn) -> Iterator[AgentDesktop]:
    """The Agent desktop on a free port, registered with Deskgate as the demo registers it."""
    url = f"http://{LOOPBACK}:{free_ports(1)[0]}"
    registered = registry.register_app(
        registry.AppInput(
            name="Agent desktop",
            redirect_uris=[f"{url}/callback"],
            post_logout_redirect_uris=[f"{url}/"],
            backchannel_logout_uri=f"{url}/backchannel-logout",
        ),
        by=OPERATOR,
    )
    app = AgentDesktop(
        Settings(deskgate.url, registered.application.client_id, registered.client_secret, url)
    )
    with app:
        yield app


@pytest.fixture
def tab(chromium: Browser, deskgate: Gunicorn, axe: a11y.Audit) -> Iterator[Page]:
    """A tab whose Deskgate pages axe-core checks (the Agent desktop's are the demo's own)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    axe.watch(page, deskgate.url)
    try:
        yield page
    finally:
        context.close()


def sign_in_at_deskgate(page: Page, user: User) -> None:
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def shown(page: Page, label: str) -> Any:
    """The value the app's page shows for `label` (a <dt>/<dd> pair)."""
    return page.locator("dt", has_text=re.compile(f"^{label}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def wait_until(done: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sign_in_shows_the_amr_and_sign_out_ends_both(
    tab: Page,
    deskgate: Gunicorn,
    desktop: AgentDesktop,
    user_factory: Callable[..., User],
    sms_gateway: Kannel,
) -> None:
    sami = user_factory(
        "agent", "sms", username="sami.agent", full_name="Sami Agent", work_phone="+358401110002"
    )
    tab.goto(f"{desktop.url}/")
    expect(tab.get_by_text("You are not signed in.")).to_be_visible()
    tab.get_by_role("button", name="Sign in with Deskgate").click()

    expect(tab).to_have_url(re.compile(rf"^{re.escape(deskgate.url)}/signin/"))
    sign_in_at_deskgate(tab, sami)
    expect(tab.get_by_role("heading", name="Enter your code")).to_be_visible()
    code = code_in(sms_gateway.wait_for("+358401110002").text)
    tab.get_by_label("Code", exact=True).fill(code)
    tab.get_by_role("button", name="Continue").click()

    expect(tab).to_have_url(f"{desktop.url}/")
    expect(tab.get_by_role("heading", name="Hello, Sami Agent")).to_be_visible()
    expect(shown(tab, "User name")).to_have_text("sami.agent")
    expect(shown(tab, "Client")).to_have_text(sami.client.name)
    expect(shown(tab, "Level")).to_have_text("agent")
    expect(shown(tab, "Signed in with")).to_have_text("password + code by SMS (two factors)")
    expect(shown(tab, "amr")).to_have_text("pwd sms mfa")
    sid = next(iter(desktop.sessions.values())).sid
    assert sid

    tab.get_by_role("button", name="Sign out").click()
    # Deskgate ended its session and sent the browser back without asking (id_token_hint).
    expect(tab).to_have_url(f"{desktop.url}/")
    expect(tab.get_by_role("status")).to_have_text(
        "You are signed out of the Agent desktop and Deskgate."
    )
    expect(tab.get_by_text("You are not signed in.")).to_be_visible()
    tab.goto(f"{deskgate.url}/account/")
    expect(tab).to_have_url(re.compile(r"/signin/"))
    # ...and told the app by back-channel too, a token the app verified.
    assert wait_until(lambda: sid in desktop.ended_by_deskgate), desktop.ended_by_deskgate


def test_signing_out_in_deskgate_ends_the_app_session(
    tab: Page,
    deskgate: Gunicorn,
    desktop: AgentDesktop,
    user_factory: Callable[..., User],
) -> None:
    olli = user_factory("agent", "off", username="olli.agent", full_name="Olli Agent")
    tab.goto(f"{desktop.url}/")
    tab.get_by_role("button", name="Sign in with Deskgate").click()
    sign_in_at_deskgate(tab, olli)
    expect(tab.get_by_role("heading", name="Hello, Olli Agent")).to_be_visible()
    expect(shown(tab, "Signed in with")).to_have_text("password (one factor)")

    tab.goto(f"{deskgate.url}/account/")
    tab.get_by_role("button", name="Sign out").click()
    assert wait_until(lambda: len(desktop.ended_by_deskgate) == 1), "no back-channel logout"

    tab.goto(f"{desktop.url}/")
    expect(tab.get_by_role("status")).to_have_text("Deskgate ended your session.")
    expect(tab.get_by_role("button", name="Sign in with Deskgate")).to_be_visible()
