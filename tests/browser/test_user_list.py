"""The User list an admin works from, in Chromium: filter, sort, select all, then bulk MFA
with its confirmation step (issue 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from deskgate.accounts.models import User

pytestmark = pytest.mark.browser


def test_filter_sort_select_all_and_confirm_bulk_sms(
    page: Page,
    sign_in_as: Callable[[User], None],
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    for i in range(53):
        user_factory("agent", full_name=f"Agent {i:02d}")
    landlines = [
        user_factory("agent", full_name="Lauri Landline", work_phone="+35891234567"),
        user_factory("agent", full_name="Leena Landline", work_phone="+35891234568"),
    ]
    user_factory("agent", "email", full_name="Emma Email")  # filtered out: MFA is Email

    sign_in_as(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    search = page.get_by_role("search")
    search.get_by_label("Level").select_option(label="Agent")
    search.get_by_label("Status").select_option(label="MFA off")
    expect(page.get_by_text("55 users", exact=True)).to_be_visible()
    assert "flag=mfa_off" in page.url and "level=agent" in page.url  # can be bookmarked

    # Sort by Name, then the other way: the heading says which.
    page.get_by_role("link", name="Name", exact=True).click()
    name_heading = page.get_by_role("columnheader", name="Name", exact=True)
    expect(name_heading).to_have_attribute("aria-sort", "descending")
    rows = page.get_by_role("row")
    expect(rows.nth(1)).to_contain_text("Leena Landline")
    expect(page.get_by_text("55 users", exact=True)).to_be_visible()  # the filter is kept
    expect(page.get_by_role("cell", name="MFA off").first).to_be_visible()

    # Select the page, then everyone that matches.
    page.get_by_label("Select all users on this page").check()
    ticked = page.locator("input[name=users]:checked")
    expect(ticked).to_have_count(50)
    page.get_by_role("button", name="Select all 55 users that match").click()
    expect(page.get_by_label("For")).to_have_value("matching")
    expect(page.get_by_text("All users that match are selected")).to_be_visible()

    page.get_by_label("Set MFA to").select_option(label="SMS")
    page.get_by_role("button", name="Review").click()

    expect(
        page.get_by_role("heading", name="Set MFA to SMS for 55 users that match the list?")
    ).to_be_visible()
    expect(page.get_by_text("53 users will be set to SMS.")).to_be_visible()
    refused = page.get_by_role("table")
    for user in landlines:
        expect(refused).to_contain_text(f"{user.full_name} ({user.username})")
    expect(refused).to_contain_text("is not a mobile number, so it cannot receive an SMS code")
    assert all(
        u.mfa_method == "off" for u in User.objects.filter(level="agent", full_name__startswith="A")
    )
    screenshot()

    # While it runs: the button is disabled, the page says it is working, a second click
    # sends nothing (the server would refuse the key's second run anyway).
    confirm = page.get_by_role("button", name="Set SMS for 53 users")
    page.evaluate(
        "document.getElementById('bulk-confirm')"
        ".addEventListener('submit', (e) => e.preventDefault())"
    )
    confirm.click()
    expect(confirm).to_be_disabled()
    expect(page.get_by_role("status").filter(has_text="Working")).to_have_text("Working…")
    with page.expect_navigation():
        page.evaluate("document.getElementById('bulk-confirm').submit()")

    expect(page.get_by_role("heading", name="Set MFA to SMS")).to_be_visible()
    expect(page.get_by_text("53 applied, 2 refused.")).to_be_visible()
    assert User.objects.filter(level="agent", mfa_method="sms").count() == 53
    assert User.objects.get(full_name="Emma Email").mfa_method == "email"


@pytest.fixture
def olli_in_the_list(
    page: Page,
    sign_in_as: Callable[[User], None],
    admin_user: User,
    user_factory: Callable[..., User],
) -> Page:
    """An admin on the User list, with Olli Old and Bert Blom in it."""
    user_factory("agent", username="olli.old", full_name="Olli Old")
    user_factory("agent", username="bert.blom", full_name="Bert Blom")
    sign_in_as(admin_user)
    page.goto("/users/")
    return page


def press_like_a_person(page: Page, link: Locator, then: Callable[[], None] = lambda: None) -> None:
    """The button down on `link`, held 300 ms as a person's click is (`then` runs while it
    is down), then up."""
    box = link.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(300)
    then()
    page.mouse.up()


def partial_requests(page: Page, event: str) -> list[str]:
    """The live search's requests (`event` "request") or answers ("response"), as they come."""
    seen: list[str] = []
    page.on(event, lambda r: seen.append(r.url) if "partial=1" in r.url else None)  # type: ignore[call-overload]
    return seen


def test_a_click_on_a_result_opens_it_even_a_slow_click(olli_in_the_list: Page) -> None:
    """A person's click holds the button down a tenth of a second or more. Pressing it on a
    result moves the focus out of the search box, and the browser fires "change" for what
    was already searched as it was typed. That must not search again: the answer replaced
    the results while the button was down, and the click fell between two links."""
    page = olli_in_the_list
    searches = partial_requests(page, "request")

    page.get_by_label("Search").press_sequentially("Olli", delay=20)
    expect(page.get_by_text("1 user matching \u201cOlli\u201d")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(searches) == 1, searches  # typing is debounced into one search
    press_like_a_person(page, page.get_by_role("link", name="Olli Old", exact=True))
    expect(page.get_by_role("heading", name="Olli Old")).to_be_visible()
    assert len(searches) == 1, searches

    # A real change still searches at once.
    page.go_back()
    page.get_by_label("Level").select_option(label="Agent")
    expect(page.get_by_text("1 user matching \u201cOlli\u201d")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(searches) == 2 and "level=agent" in searches[-1], searches


def test_a_click_while_the_typed_search_is_on_its_way_opens_what_was_clicked(
    olli_in_the_list: Page,
) -> None:
    """Typing, then at once pressing the button on a result of the list already shown: the
    press leaves the box and searches; its answer waits until the button is up, so the click
    opens the user it was made on."""
    page = olli_in_the_list
    answered = partial_requests(page, "response")
    link = page.get_by_role("link", name="Olli Old", exact=True)
    link.wait_for()

    def answer_came() -> None:
        assert answered, "the search did not answer while the button was down"

    page.get_by_label("Search").press_sequentially("Oll")  # no pause: the search waits 200 ms
    press_like_a_person(page, link, then=answer_came)
    expect(page.get_by_role("heading", name="Olli Old")).to_be_visible()
