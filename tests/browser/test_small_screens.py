"""Every page on a phone: at 360 x 740 no page scrolls sideways (a wide table scrolls in its
own box), and the menu folds behind a button that opens and closes it.

Set DESKGATE_SCREENS=docs/screens to also keep the key pages' screenshots at 1280 x 800 and
390 x 844 there (README, "Screenshots").
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import FilePayload, Page, ViewportSize, expect

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, MessageTemplate, User
from deskgate.apitokens import tokens
from tests.browser.steps import enter_code
from tests.conftest import PASSWORD
from tests.mailbox import last_code

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
SCREENS = os.environ.get("DESKGATE_SCREENS", "")
# The key pages' screenshots: a desktop and a phone, and the phone in the dark scheme.
SCREEN_SIZES: dict[str, tuple[ViewportSize, Literal["light", "dark"]]] = {
    "desktop": ({"width": 1280, "height": 800}, "light"),
    "phone": ({"width": 390, "height": 844}, "light"),
    "phone-dark": ({"width": 390, "height": 844}, "dark"),
}

# The elements that reach past the right edge, for the failure message.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll("*")]
    .filter((el) => !el.closest(".table-scroll") && el.getBoundingClientRect().right > width)
    .slice(0, 8)
    .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " (" +
      Math.round(el.getBoundingClientRect().right) + " px)");
}"""


class Widths:
    """The pages visited and how wide each was; fails once, naming every page too wide."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[str] = []
        self.too_wide: list[str] = []

    def check(self, what: str, heading: str | re.Pattern[str] | None = None) -> None:
        page = self.page
        if heading is not None:
            expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        page.wait_for_load_state()
        width = page.evaluate("document.documentElement.scrollWidth")
        self.seen.append(what)
        if width > PHONE["width"]:
            culprits = ", ".join(page.evaluate(OVERFLOWING))
            self.too_wide.append(f"{what} ({page.url}): {width} px; past the edge: {culprits}")

    def visit(self, what: str, path: str, heading: str | re.Pattern[str] | None = None) -> None:
        self.page.goto(path)
        self.check(what, heading)

    def assert_all_fit(self) -> None:
        assert not self.too_wide, "pages wider than the phone:\n" + "\n".join(self.too_wide)


@pytest.fixture
def phone(page: Page) -> Widths:
    page.set_viewport_size(PHONE)
    # Forty pages in a row on a shared machine: a slow load is not what this test is about.
    page.set_default_navigation_timeout(20_000)
    return Widths(page)


def sign_in(page: Page, user: User, *, code: bool = False) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if code:
        enter_code(page, last_code(user))
    expect(page.get_by_role("button", name="Sign out", include_hidden=True)).to_have_count(1)


def sign_out(page: Page) -> None:
    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def open_menu(page: Page) -> None:
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()


def shoot(page: Page, name: str) -> None:
    """The page at both sizes into DESKGATE_SCREENS, as small PNGs of the first screen."""
    if not SCREENS:
        return
    target = Path(SCREENS)
    target.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, (viewport, scheme) in SCREEN_SIZES.items():
        page.set_viewport_size(viewport)
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(50)  # one frame for the layout of the new width
        page.screenshot(path=str(target / f"{name}-{size}.png"))
    page.emulate_media(color_scheme="light")
    if before is not None:
        page.set_viewport_size(before)


def test_signed_out_pages_fit_a_phone(
    page: Page, phone: Widths, user_factory: Callable[..., User], tenant: Client, settings: Any
) -> None:
    actions.update_client_settings(
        tenant, by=OPERATOR, password_reset_enabled=True, remember_device_enabled=True
    )
    vera = user_factory("agent", "email", username="vera.agent", full_name="Vera Agent")
    fresh = user_factory("agent", username="nina.new", full_name="Nina New", temporary=True)

    phone.visit("sign-in", "/signin/", "Sign in")
    shoot(page, "sign-in")
    phone.visit("reset request", "/signin/reset/", "Reset your password")
    page.get_by_label("Email").fill(vera.email)
    page.get_by_role("button", name=re.compile("link", re.I)).click()
    phone.check("reset sent", "Check your email")
    uid = urlsafe_base64_encode(force_bytes(vera.pk))
    token = default_token_generator.make_token(vera)
    phone.visit("reset confirm", f"/signin/reset/{uid}/{token}/", "Choose a new password")
    phone.visit("bad reset link", "/signin/reset/x/not-a-token/", "This link does not work")
    phone.visit("SSO: choose the company", "/signin/sso/", "Sign in with SSO")
    phone.visit(
        "enrolment link not valid", "/signin/enrolment-link/", "This set-up link does not work"
    )
    phone.visit("invitation not valid", "/signin/invitation/", "This invitation has expired")
    invited = user_factory(
        "agent", username="iida.invited", full_name="Iida Invited", password=None
    )
    actions.invite(invited, by=OPERATOR)
    link = re.search(r"(/signin/invitation/\?t=\S+)", str(mail.outbox[-1].body))
    assert link, mail.outbox[-1].body
    phone.visit("invitation", link.group(1), "Choose your password")
    phone.visit("page not found", "/no-such-page/")

    page.goto("/signin/")
    page.get_by_label("User name").fill(vera.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    phone.check("code", "Enter your code")
    shoot(page, "code")

    page.context.clear_cookies()
    page.goto("/signin/")
    page.get_by_label("User name").fill(fresh.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    phone.check("new password at the first sign-in", "Choose your password")

    # A client that requires an app or a passkey: the enrolment step after the code.
    page.context.clear_cookies()
    actions.update_client_settings(
        tenant,
        by=OPERATOR,
        password_reset_enabled=True,
        remember_device_enabled=True,
        policy=actions.FactorPolicy(strong_factor_levels=("agent",)),
    )
    page.goto("/signin/")
    page.get_by_label("User name").fill(vera.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_code(page, last_code(vera))
    phone.check("enrolment", "Set up a second factor")
    phone.assert_all_fit()


def test_an_agents_pages_fit_a_phone(
    page: Page, phone: Widths, user_factory: Callable[..., User]
) -> None:
    agent = user_factory(
        "agent",
        "email",
        username="maximilian.longname",
        full_name="Maximilian Alexander Longname-Virtanen",
        email="maximilian.alexander.longname-virtanen@northwind-contact-center.example",
    )
    sign_in(page, agent, code=True)
    phone.visit("account", "/account/", agent.full_name)
    shoot(page, "account")
    phone.visit("change password", "/signin/password/", "Change password")
    phone.visit(
        "set up an authenticator app", "/account/authenticator/", "Set up an authenticator app"
    )
    phone.visit("add a passkey", "/account/passkeys/add/", "Add a passkey or security key")
    phone.visit("contact change", "/account/contact/", "Change your contact information")
    page.get_by_label("Change").select_option(label="Email")
    page.get_by_label("New value").fill("max.new@example.com")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Send a code to confirm").click()
    phone.check("contact confirm", "Confirm your new email")
    # The sign-in provider's own pages, as an app's links open them.
    phone.visit("an app's broken sign-in link", "/o/authorize/", re.compile("sign-in link"))
    phone.visit("sign out of the apps", "/o/logout/", re.compile("Sign out of Deskgate|sign-out"))
    phone.visit("an admin page: not available", "/users/", "Not available")
    phone.visit("page not found, signed in", "/no-such-page/")
    phone.assert_all_fit()


def test_an_admins_pages_fit_a_phone(
    page: Page,
    phone: Widths,
    user_factory: Callable[..., User],
    tenant: Client,
    settings: Any,
    clock: Callable[[timedelta], object],
) -> None:
    settings.DESKGATE_OUTBOX_PAGE = True
    admin = user_factory("admin", "email", username="anna.admin", full_name="Anna Admin")
    agent = user_factory(
        "agent",
        "email",
        username="maximilian.longname",
        full_name="Maximilian Alexander Longname-Virtanen",
        email="maximilian.alexander.longname-virtanen@northwind-contact-center.example",
    )
    for n in range(3):
        user_factory("agent", "sms", full_name=f"Agent Number{n}")
    template = MessageTemplate.objects.create(
        client=tenant, name="Shift reminder", channel="sms", sender="Northwind", body="Hi"
    )
    token = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=None, by=OPERATOR)

    sign_in(page, admin, code=True)
    phone.visit("user list", "/users/", "Users")
    shoot(page, "user-list")
    phone.visit("create user", "/users/create/", "Create user")
    phone.visit("import users", "/users/import/", "Import users from a CSV file")
    csv_file = (
        "username,full_name,level,email,work_phone,mfa,employment\n"
        "imported.agent.with.a.long.name,Imported Agent With A Rather Long Name,agent,"
        "imported.agent.with.a.long.name@northwind.example,,email,active\n"
    )
    page.get_by_label("CSV file").set_input_files(
        files=[FilePayload(name="agents.csv", mimeType="text/csv", buffer=csv_file.encode())]
    )
    page.get_by_role("button", name="Check the file").click()
    phone.check("import users: the file checked", "Import users from a CSV file")
    phone.visit("user page", f"/users/{agent.pk}/", agent.full_name)
    shoot(page, "user-page")
    phone.visit("delete a user", f"/users/{agent.pk}/delete/", f"Delete {agent.full_name}?")
    phone.visit("message templates", "/templates/", "Message templates")
    phone.visit("create template", "/templates/create/", "Create template")
    phone.visit("template", f"/templates/{template.pk}/", "Shift reminder")
    phone.visit("settings", "/settings/", f"Settings of {tenant.name}")
    phone.visit("SSO settings", "/settings/sso/", f"SSO of {tenant.name}")
    phone.visit("API tokens", "/settings/api-tokens/", f"API tokens of {tenant.name}")
    page.get_by_label("Name").fill("Reporting program with a long name")
    page.get_by_role("button", name=re.compile("Create")).click()
    phone.check("API tokens: the new token", re.compile("Your new token"))
    phone.visit(
        "revoke an API token",
        f"/settings/api-tokens/{token.token.pk}/revoke/",
        "Revoke API token Entra ID?",
    )
    phone.visit("audit trail", "/audit/", "Audit trail")
    phone.visit("audit trail of a user", f"/audit/?user={agent.pk}", re.compile("Audit trail of"))
    phone.visit("outbox", "/outbox/", "Outbox")

    # Bulk MFA from the list: select, choose, Review, confirm.
    page.goto("/users/")
    page.get_by_label(f"Select {agent.full_name}").check()
    page.get_by_label("Set MFA to").select_option(label="SMS")
    page.get_by_role("button", name="Review").click()
    phone.check("bulk confirmation")
    page.get_by_role("button", name=re.compile(r"^Set SMS for 1 user")).click()
    phone.check("bulk result", "Set MFA to SMS")

    # Step-up: an admin whose check is older than the window makes a sensitive change.
    clock(timedelta(minutes=20))
    page.goto(f"/users/{agent.pk}/")
    page.get_by_label("MFA").select_option(label="Email")
    page.get_by_role("button", name="Save").first.click()
    phone.check("step-up", "Check your sign-in first")
    page.get_by_role("button", name="Check with your code").click()
    phone.check("code, signed in (step-up)", "Enter your code")
    phone.assert_all_fit()


def test_the_menu_folds_behind_its_button_on_a_phone(
    page: Page, user_factory: Callable[..., User]
) -> None:
    admin = user_factory("admin", username="anna.admin", full_name="Anna Admin")
    page.set_viewport_size(PHONE)
    sign_in(page, admin)
    page.goto("/users/")
    toggle = page.get_by_role("button", name="Menu")
    menu = page.get_by_role("navigation", name="Main")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "site-menu")
    expect(menu.get_by_role("link", name="Audit trail")).to_be_hidden()

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("link", name="Audit trail")).to_be_visible()
    expect(menu.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu.get_by_role("link", name="Audit trail")).to_be_hidden()

    # Escape closes it from inside and gives the focus back to the button.
    toggle.click()
    menu.get_by_role("link", name="Audit trail").focus()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    toggle.click()
    menu.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()

    # On a desktop the menu is simply there and the button is not.
    page.set_viewport_size(DESKTOP)
    expect(toggle).to_be_hidden()
    expect(menu.get_by_role("link", name="Audit trail")).to_be_visible()


def test_without_scripts_the_menu_is_open_on_a_phone(
    chromium: Any, live_server: Any, user_factory: Callable[..., User]
) -> None:
    admin = user_factory("admin", username="anna.admin", full_name="Anna Admin")
    context = chromium.new_context(
        base_url=live_server.url, viewport=PHONE, java_script_enabled=False
    )
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        sign_in(page, admin)
        page.goto("/users/")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        menu = page.get_by_role("navigation", name="Main")
        expect(menu.get_by_role("link", name="Audit trail")).to_be_visible()
        expect(menu.get_by_role("button", name="Sign out")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(
    page: Page, user_factory: Callable[..., User]
) -> None:
    admin = user_factory("admin", username="anna.admin", full_name="Anna Admin")
    sign_in(page, admin)
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.goto("/users/")
        skip = page.get_by_role("link", name="Skip to main content")
        expect(skip).not_to_be_in_viewport()
        page.keyboard.press("Tab")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/users/#main$"))
        # The next Tab goes into the page's content, past the menu.
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_favicon(page: Page) -> None:
    page.goto("/signin/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None and icon.endswith(".svg")
    response = page.request.get(icon)
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    response = page.request.get("/favicon.ico")
    assert response.ok and response.url.endswith(icon)
