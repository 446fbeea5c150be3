"""Accessibility beyond what axe-core sees (every browser test runs axe-core over the pages
it reaches, tests/browser/a11y.py): the keyboard path, where the focus goes, what is
announced, the error pages; and that the audit itself does catch a violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from deskgate.accounts.models import User
from tests.browser import a11y
from tests.browser.steps import expect_code_step
from tests.conftest import PASSWORD
from tests.harness.smtp import SmtpServer

pytestmark = pytest.mark.browser

SignIn = Callable[[User], None]
# Not inside a live region, an alert or a status: what the element says is not announced.
SILENT = "el => el.closest('[aria-live], [role=status], [role=alert]') === null"


def focused(locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def tabs_until(page: Page, target: Locator, limit: int = 60) -> int:
    """Press Tab until `target` has the focus; answers how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if focused(target):
            return presses
    raise AssertionError(f"{target} not reached in {limit} presses of Tab")


def test_the_skip_link_brings_the_third_user_within_a_few_keys(
    page: Page, sign_in_as: SignIn, admin_user: User, user_factory: Callable[..., User]
) -> None:
    for name in ("Bea Berg", "Bert Blom", "Carl Cole"):
        user_factory("agent", full_name=name)
    sign_in_as(admin_user)
    page.goto("/users/")
    third = page.get_by_role("link", name="Bert Blom", exact=True)  # after Anna Admin, Bea Berg

    without_skipping = tabs_until(page, third)

    page.reload()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused, for people who see the screen
    page.keyboard.press("Enter")
    # The next Tab stop is in <main>: the header's menu is passed over. There the list's
    # own skip link passes over the search, the filters and the bulk change.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    expect(page.get_by_role("link", name="Skip to the list of users")).to_be_focused()
    page.keyboard.press("Enter")
    with_skipping = 4 + tabs_until(page, third)

    assert with_skipping < without_skipping
    assert with_skipping <= 20, (with_skipping, without_skipping)  # 23 before the skip link


def test_a_failed_save_moves_the_focus_to_the_summary_and_ties_errors_to_fields(
    page: Page, sign_in_as: SignIn, admin_user: User
) -> None:
    sign_in_as(admin_user)
    page.goto("/users/create/")
    page.get_by_label("User name").fill("new.agent")
    page.get_by_label("Full name").fill("New Agent")
    password = page.get_by_label("Set password")
    expect(password).to_have_accessible_description(
        "A temporary password the user must change at the first sign-in."
    )
    password.fill(PASSWORD + "x")
    contact = page.get_by_role("group", name="Contact information")
    contact.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Save").first.click()

    summary = page.get_by_role("alert").filter(has_text="Nothing was saved")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading", name="Nothing was saved.")).to_be_visible()
    email = contact.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("Enter a valid email address"))


def test_search_announces_the_count_not_the_table(
    page: Page, sign_in_as: SignIn, admin_user: User, user_factory: Callable[..., User]
) -> None:
    user_factory("agent", full_name="Bea Berg")
    user_factory("agent", full_name="Bert Blom")
    sign_in_as(admin_user)
    page.goto("/users/")
    page.get_by_label("Search").press_sequentially("Bea", delay=20)

    expect(page.get_by_role("link", name="Bert Blom")).to_have_count(0)
    assert page.get_by_role("table").evaluate(SILENT), "the results table is a live region"
    count = page.get_by_text("1 user matching \u201cBea\u201d")
    expect(count).to_be_visible()
    assert not count.evaluate(SILENT), "the new count is not announced"


def test_resend_code_is_announced_once_when_it_becomes_available(
    page: Page, user_factory: Callable[..., User], mail: SmtpServer
) -> None:
    agent = user_factory("agent", "email")
    page.clock.install()
    page.goto("/")
    page.get_by_label("User name").fill(agent.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_code_step(page, "email", agent.masked_mfa_destination())

    countdown = page.get_by_text(re.compile(r"^You can ask for a new code in \d+ s\.$"))
    expect(countdown).to_be_visible()
    assert countdown.evaluate(SILENT), "the countdown is announced every second"
    ready = page.get_by_text("You can ask for a new code now.")
    expect(ready).to_have_count(0)
    expect(page.get_by_role("button", name="Resend code")).to_be_disabled()

    page.clock.run_for(31_000)
    expect(page.get_by_role("button", name="Resend code")).to_be_enabled()
    expect(ready).to_have_count(1)
    assert not ready.evaluate(SILENT)


def test_a_missing_page_has_the_menu_a_heading_and_a_way_back(
    page: Page, sign_in_as: SignIn, admin_user: User
) -> None:
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("main").get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    sign_in_as(admin_user)
    response = page.goto("/users/999999/no-such-page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


def test_the_audit_reports_a_violation_with_rule_impact_place_and_help(
    page: Page, live_server: Any
) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.evaluate(
        "() => { const i = document.createElement('img'); i.id = 'bad'; i.src = 'data:,';"
        " document.querySelector('main').append(i); }"
    )
    audit = a11y.load()
    audit.watch(page, live_server.url)
    audit.check("in this test")
    # Taken out again: the page fixture's own audit checks the state the test ends in.
    page.evaluate("() => document.getElementById('bad').remove()")

    report = audit.report()
    assert "image-alt (critical) at #bad: Images must have alternative text" in report
    assert "/signin/" in report and "https://dequeuniversity.com/rules/axe/" in report
    with pytest.raises(pytest.fail.Exception):
        audit.assert_clean()
