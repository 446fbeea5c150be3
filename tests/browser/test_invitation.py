"""An invitation in a real browser (issue 16): an admin creates a user with "Send an
invitation by email"; the email arrives at the real SMTP server on loopback; the person
opens its link in their own browser, chooses a password, proves the Email code, and is
signed in; later they sign in the ordinary way."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.models import Invitation, User
from tests.browser import a11y
from tests.browser.steps import enter_code, expect_code_step
from tests.harness.smtp import SmtpServer
from tests.mailbox import code_in

pytestmark = pytest.mark.browser

LINK = re.compile(r"(https?://\S+/signin/invitation/\?t=[A-Za-z0-9_-]+)")
CHOSEN = "shift starts at seven 2026"


def test_from_the_invitation_email_to_the_first_sign_in(
    page: Page,
    chromium: Any,
    live_server: Any,
    axe: a11y.Audit,
    sign_in_as: Callable[[User], None],
    admin_user: User,
    mail: SmtpServer,
    settings: Any,
    screenshot: Callable[[], None],
) -> None:
    settings.DESKGATE_BASE_URL = live_server.url
    sign_in_as(admin_user)
    page.goto("/users/create/")
    page.get_by_label("User name").fill("ville.virta")
    page.get_by_label("Full name").fill("Ville Virta")
    page.get_by_label("MFA").select_option(label="Email")
    page.get_by_role("group", name="Contact information").get_by_label("Email").fill(
        "ville@example.com"
    )
    invite = page.get_by_label("Send an invitation by email")
    expect(invite).to_be_checked()
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status").first).to_contain_text("An invitation was sent to")
    expect(page.get_by_text(re.compile(r"^Invitation: sent .* works until"))).to_be_visible()
    expect(page.get_by_role("button", name="Resend invitation")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke invitation")).to_be_visible()

    message = mail.wait_for("ville@example.com")
    match = LINK.search(message.body)
    assert match, message.body
    link = match.group(1)
    assert link.startswith(live_server.url)

    # The person, in their own browser.
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(5_000)
    tab = context.new_page()
    axe.watch(tab, live_server.url)
    try:
        tab.goto(link)
        expect(tab).to_have_url(re.compile(r"/signin/invitation/$"))  # the token left the URL
        expect(tab.get_by_role("heading", name="Choose your password")).to_be_visible()
        expect(tab.get_by_text("Your user name is ville.virta.")).to_be_visible()
        tab.get_by_label("New password", exact=True).fill(CHOSEN)
        tab.get_by_label("New password again").fill(CHOSEN)
        tab.get_by_role("button", name="Save password").click()

        expect_code_step(tab, "email", "v\u2022\u2022\u2022\u2022@example.com")
        screenshot()
        code_mail = mail.wait_for(lambda m: "ville@example.com" in m.rcpt_tos and m is not message)
        enter_code(tab, code_in(code_mail.body))
        expect(tab.get_by_role("button", name="Sign out")).to_be_visible()
        expect(tab.get_by_role("heading", name="Ville Virta")).to_be_visible()

        # The link is spent.
        tab.get_by_role("button", name="Sign out").click()
        tab.goto(link)
        expect(tab.get_by_role("heading", name="This invitation was used already")).to_be_visible()

        # And the ordinary way in works with the chosen password.
        tab.goto("/")
        tab.get_by_label("User name").fill("ville.virta")
        tab.get_by_label("Password").fill(CHOSEN)
        tab.get_by_role("button", name="Sign in").click()
        expect_code_step(tab, "email", "v\u2022\u2022\u2022\u2022@example.com")
    finally:
        context.close()

    user = User.objects.get(username="ville.virta")
    assert Invitation.objects.get(user=user).accepted_at is not None
    page.reload()
    expect(page.get_by_text(re.compile(r"^Invitation: sent .* accepted"))).to_be_visible()
