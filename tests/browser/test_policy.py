"""The factor policy in a real browser: an admin sets "admins must use an authenticator app
or a passkey" on the Settings page; another admin signs in with an Email code, is taken to
set up the app, sets it up, saves the recovery codes and lands home."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from deskgate.accounts.models import Client, User, UserSession
from deskgate.signin import factors
from tests.browser.steps import enter_code
from tests.conftest import PASSWORD
from tests.mailbox import last_code

pytestmark = pytest.mark.browser


def sign_in(page: Page, user: User) -> None:
    page.goto("/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_code(page, last_code(user))


def test_admin_requires_an_app_and_another_admin_sets_one_up(
    page: Page, user_factory: Callable[..., User], tenant: Client
) -> None:
    anna = user_factory("admin", "email", username="anna.admin", full_name="Anna Admin")
    otto = user_factory("admin", "email", username="otto.other", full_name="Otto Other")

    sign_in(page, anna)
    page.get_by_role("link", name="Settings").click()
    levels = page.get_by_role(
        "group", name="Levels that must use an authenticator app or a passkey"
    )
    expect(levels).to_be_visible()
    levels.get_by_label("Admin", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The settings are saved.")).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.strong_factor_levels == "admin"
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, otto)
    expect(page).to_have_url(re.compile(r"/signin/enrol/$"))
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    expect(
        page.get_by_text("Northwind requires admins to sign in with an authenticator app")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)  # no session yet
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(secret).at(timezone.now())
    )
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("button", name=re.compile("I have saved them")).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/users/$"))  # an admin's home
    assert factors.has_strong_factor(otto)
    assert UserSession.objects.get(user=otto).amr == ["pwd", "otp", "mfa"]
