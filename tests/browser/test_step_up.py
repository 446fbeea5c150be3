"""Step-up in a real browser: an admin whose sign-in is older than the client's window
changes an agent's MFA method, is asked for a code (read from the outbox), comes back to
the user page with the change still chosen, and saves."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.models import AuditAction, AuditEvent, MfaMethod, User
from tests.browser.steps import enter_code
from tests.conftest import PASSWORD
from tests.mailbox import last_code

pytestmark = pytest.mark.browser


def test_a_stale_admin_is_asked_for_a_code_and_comes_back_to_save(
    page: Page,
    user_factory: Callable[..., User],
    clock: Callable[[timedelta], object],
    screenshot: Callable[[], None],
) -> None:
    admin = user_factory("admin", "email", username="sam.stale", full_name="Sam Stale")
    agent = user_factory("agent", "email", username="otto.agent", full_name="Otto Agent")
    page.goto("/")
    page.get_by_label("User name").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_code(page, last_code(admin))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    clock(timedelta(minutes=20))  # past the default 15 minutes
    page.goto(f"/users/{agent.pk}/")
    expect(page.get_by_role("heading", name="Otto Agent")).to_be_visible()
    page.get_by_label("MFA").select_option(label="SMS")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("heading", name="Check your sign-in first")).to_be_visible()
    expect(page.get_by_text(re.compile("did not check it in the last 15 minutes"))).to_be_visible()
    screenshot()
    assert User.objects.get(pk=agent.pk).mfa_method == MfaMethod.EMAIL
    page.get_by_role("button", name="Check with your code").click()

    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    enter_code(page, last_code(admin))

    expect(page).to_have_url(re.compile(rf"/users/{agent.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("Checked.")
    expect(page.get_by_label("MFA")).to_have_value(MfaMethod.SMS)  # what was chosen, kept
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_contain_text("Otto Agent (otto.agent) is saved.")
    assert User.objects.get(pk=agent.pk).mfa_method == MfaMethod.SMS
    assert AuditEvent.objects.filter(action=AuditAction.STEP_UP_PASSED, subject=admin).count() == 1
