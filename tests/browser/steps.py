"""Steps a person takes in the browser, shared by the browser tests: the code step, and
the test OpenID Connect provider's login page (the company's SSO)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def expect_code_step(page: Page, channel: str, masked: str, *, signed_in: bool = False) -> None:
    """The code page, naming where the code went; no session yet, unless the person is
    signed in already and an app asked for the code (step-up, prompt=login)."""
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin/code/$"))
    expect(page.get_by_text(f"We sent a code by {channel} to {masked}.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(1 if signed_in else 0)


def enter_code(page: Page, code: str, *, remember: bool = False) -> None:
    page.get_by_label("Code", exact=True).fill(code)
    if remember:
        page.get_by_label("Remember device for 30 days").check()
    page.get_by_role("button", name="Continue").click()


def provider_login(page: Page, login: str) -> None:
    """oidc-provider's development login page, as a person fills it in."""
    expect(page.get_by_role("heading", name="Sign-in")).to_be_visible()
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("any password will do")
    page.get_by_role("button", name="Sign-in").click()
