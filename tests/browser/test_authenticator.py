"""The authenticator app in a real browser: set it up from the account page (the QR code
page, its key as text), save the recovery codes, sign out, sign in with the app's code."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from deskgate.accounts.models import User, UserSession
from deskgate.delivery.models import OutboxMessage
from tests.browser.steps import enter_code
from tests.conftest import PASSWORD
from tests.mailbox import codes_sent_to, last_code

pytestmark = pytest.mark.browser


def sign_in_with_password(page: Page, user: User) -> None:
    page.goto("/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_set_up_the_app_sign_out_and_sign_in_with_its_code(
    page: Page, user_factory: Callable[..., User], clock: Callable[[timedelta], object]
) -> None:
    user = user_factory("agent", "email", username="ann.app", full_name="Ann App")
    sign_in_with_password(page, user)
    enter_code(page, last_code(user))
    expect(page.get_by_role("heading", name="Ann App")).to_be_visible()

    page.get_by_role("link", name="Set up").click()
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.get_by_role("code").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(secret).at(timezone.now())
    )
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    expect(page.get_by_text(re.compile(r"^Set up on \d{4}-\d\d-\d\d"))).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    clock(timedelta(seconds=30))  # the next step: the confirming code works once only
    sent_before = codes_sent_to(user)
    outbox_before = OutboxMessage.objects.count()
    sign_in_with_password(page, user)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.get_by_role("button", name="Send a code by Email instead")).to_be_visible()
    expect(page.get_by_role("link", name="Use a recovery code")).to_be_visible()
    assert codes_sent_to(user) == sent_before and OutboxMessage.objects.count() == outbox_before
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(secret).at(timezone.now())
    )
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Ann App")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert UserSession.objects.get(user=user).amr == ["pwd", "otp", "mfa"]
