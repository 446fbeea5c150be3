"""Users > MFA coverage and the audit trail's filters, driven as an admin would (issue 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.models import User

pytestmark = pytest.mark.browser

SignIn = Callable[[User], None]


def test_admin_finds_an_unprotected_agent_and_fixes_them(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    user_factory("agent", "sms", username="sami.sms", full_name="Sami Sms")
    user_factory("agent", username="vera.off", full_name="Vera Off", email="vera@example.com")
    sign_in_as(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_role("navigation", name="Users").get_by_role("link", name="MFA coverage").click()
    expect(page.get_by_role("heading", name="MFA coverage")).to_be_visible()
    expect(page.get_by_text("1 of 3 active users have a second factor")).to_be_visible()
    by_level = page.get_by_role("table", name="Users without a second factor, by level and reason")
    agents = by_level.get_by_role("row", name="Agent")
    agents.get_by_role("link", name="1").click()  # MFA is Off: 1
    expect(page.get_by_label("Reason", exact=True)).to_have_value("off")
    expect(page.get_by_label("Level", exact=True)).to_have_value("agent")
    listed = page.locator("table.coverage-users tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Vera Off")
    expect(listed).to_contain_text("MFA is Off")
    screenshot()
    listed.get_by_role("link", name="Fix on the user page").click()
    expect(page.get_by_role("heading", name="Vera Off")).to_be_visible()
    page.get_by_label("MFA").select_option(label="Email")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_contain_text("is saved")
    page.go_back()
    page.go_back()
    page.reload()
    expect(page.get_by_text("2 of 3 active users have a second factor")).to_be_visible()


def test_admin_filters_the_audit_trail_and_fixes_a_typo(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    user_factory("agent", username="kim.agent", full_name="Kim Agent")
    user_factory("agent", username="lea.agent", full_name="Lea Agent")
    sign_in_as(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    page.get_by_label("User", exact=True).fill("kim")
    page.get_by_label("Event", exact=True).select_option(label="User created")
    page.get_by_label("From", exact=True).fill("2026-13-45")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert").first).to_contain_text("These filters cannot be used")
    expect(page.get_by_text("Enter a date such as 2026-11-30.")).to_be_visible()
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-13-45")
    expect(page.get_by_label("User", exact=True)).to_have_value("kim")
    page.get_by_label("From", exact=True).fill("2020-01-01")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Kim Agent (kim.agent)")
    expect(page.get_by_text("Times are in UTC.")).to_be_visible()
    screenshot()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these events (CSV)").click()
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()  # noqa: PTH123, SIM115
    assert len(lines) == 2 and "kim.agent" in lines[1] and "user.created" in lines[1]
