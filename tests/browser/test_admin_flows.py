"""The article's flow in a real browser: Users > User list > search > Name > MFA > Save."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.models import Client, MfaMethod, User

pytestmark = pytest.mark.browser

SignIn = Callable[[User], None]


def open_user_list(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_role("link", name="User list").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


def search_and_open(page: Page, query: str, full_name: str) -> None:
    """Type in Search and click the Name link, without ever pressing Search."""
    # A mark on the window survives only if the results come without a page load.
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Search").press_sequentially(query, delay=20)
    expect(page.get_by_text(f"1 user matching \u201c{query}\u201d")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    page.get_by_role("link", name=full_name, exact=True).click()
    expect(page.get_by_role("heading", name=full_name)).to_be_visible()


def test_admin_sets_email_mfa_for_an_agent(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    agent = user_factory("agent", username="bea.berg", full_name="Bea Berg", email="")
    user_factory("agent", username="bert.blom", full_name="Bert Blom")
    user_factory("agent", username="carl.cole", full_name="Carl Cole")

    sign_in_as(admin_user)
    open_user_list(page)
    expect(page.get_by_role("link", name="Bert Blom")).to_be_visible()
    search_and_open(page, "Bea", "Bea Berg")

    page.get_by_label("MFA").select_option(label="Email")
    contact = page.get_by_role("group", name="Contact information")
    contact.get_by_label("Email").fill("bea.berg@example.com")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("status")).to_contain_text("Bea Berg (bea.berg) is saved.")
    screenshot()
    page.reload()
    expect(page.get_by_label("MFA")).to_have_value(MfaMethod.EMAIL)
    assert page.get_by_label("MFA").evaluate("select => select.selectedOptions[0].label") == "Email"
    expect(contact.get_by_label("Email")).to_have_value("bea.berg@example.com")

    agent.refresh_from_db()
    assert (agent.mfa_method, agent.email) == (MfaMethod.EMAIL, "bea.berg@example.com")


def test_shared_email_is_refused_and_nothing_is_saved(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    # A shared desk address, as in the demo: fine while neither uses it for MFA.
    dana = user_factory(
        "agent", username="dana.dahl", full_name="Dana Dahl", email="desk.team@example.com"
    )
    user_factory("agent", username="eero.ek", full_name="Eero Ek", email="desk.team@example.com")
    user_factory(
        "agent",
        username="ilona.inactive",
        full_name="Ilona Inactive",
        email="desk.team@example.com",
        active=False,
    )
    phone_before = dana.work_phone

    sign_in_as(admin_user)
    open_user_list(page)
    search_and_open(page, "Dana", "Dana Dahl")

    page.get_by_label("MFA").select_option(label="Email")
    contact = page.get_by_role("group", name="Contact information")
    # Typed in another case than Eero's: addresses are compared case-insensitively.
    contact.get_by_label("Email").fill("Desk.Team@example.com")
    contact.get_by_label("Work phone").fill("040 555 0101")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("alert").filter(has_text="Nothing was saved")).to_be_visible()
    clash = page.get_by_role("alert").filter(has_text="exactly one person")
    expect(clash).to_contain_text("Eero Ek (eero.ek)")
    expect(clash).not_to_contain_text("Ilona Inactive")  # only active users receive codes
    screenshot()
    expect(page.get_by_label("MFA")).to_have_value(MfaMethod.EMAIL)
    expect(contact.get_by_label("Email")).to_have_value("Desk.Team@example.com")
    expect(contact.get_by_label("Work phone")).to_have_value("040 555 0101")

    dana.refresh_from_db()
    assert (dana.mfa_method, dana.email, dana.work_phone) == (
        MfaMethod.OFF,
        "desk.team@example.com",
        phone_before,
    )


def test_legacy_client_admin_sees_mfa_disabled_with_the_reason(
    page: Page,
    sign_in_as: SignIn,
    legacy_tenant: Client,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    admin = user_factory(
        "admin", client=legacy_tenant, username="lea.legacy", full_name="Lea Legacy"
    )
    user_factory("agent", client=legacy_tenant, username="olli.old", full_name="Olli Old")

    sign_in_as(admin)
    open_user_list(page)
    search_and_open(page, "Olli", "Olli Old")

    mfa = page.get_by_label("MFA")
    expect(mfa).to_be_disabled()
    expect(mfa).to_have_accessible_description(
        "MFA is only available for clients on release 25.x or later; Legacy is on release 11.8."
    )
    # Shown once, next to the control (not repeated as the field's help as well).
    expect(page.get_by_text("release 25.x")).to_have_count(1)
    expect(page.get_by_text("release 25.x")).to_be_visible()
    screenshot()

    # The User list's bulk control is disabled too, with the same reason.
    open_user_list(page)
    expect(page.get_by_label("Set MFA to")).to_be_disabled()
    expect(page.get_by_role("button", name="Review")).to_be_disabled()


def test_bulk_sms_for_all_agents_lists_applied_and_refused(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
    screenshot: Callable[[], None],
) -> None:
    def agent(full_name: str, **kwargs: Any) -> User:
        username = full_name.lower().replace(" ", ".")
        return user_factory("agent", username=username, full_name=full_name, **kwargs)

    mobiles = [
        agent("Aino Mobile", work_phone="+358401110001"),
        agent("Aaro Mobile", work_phone="0401110002"),  # typed nationally, stored in E.164
    ]
    landline = agent("Lasse Landline", work_phone="+35891234567")
    no_phone = agent("Noora Nophone", work_phone="")
    sharers = [
        agent("Sami Shared", work_phone="+358401110003"),
        agent("Sini Shared", work_phone="+358401110003"),
    ]
    inactive = agent("Ilkka Inactive", work_phone="+358401110004", active=False)
    manager = user_factory("manager", full_name="Maija Manager", work_phone="+358401110005")

    sign_in_as(admin_user)
    open_user_list(page)
    page.get_by_label("Set MFA to").select_option(label="SMS")
    page.get_by_label("For", exact=True).select_option(label="All active users of level Agent")
    page.get_by_role("button", name="Review").click()
    # The confirmation says what will happen before anything does.
    page.get_by_role("button", name=re.compile(r"^Set SMS for 2 users")).click()

    expect(page.get_by_role("heading", name="Set MFA to SMS")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("2 applied, 4 refused.")
    screenshot()

    def result_of(user: User) -> Any:
        return page.get_by_role("row").filter(
            has=page.get_by_role("link", name=user.full_name, exact=True)
        )

    for user in mobiles:
        expect(result_of(user).get_by_role("cell").nth(1)).to_have_text("Applied")
        expect(result_of(user)).to_contain_text("MFA set to SMS.")
    expect(result_of(landline).get_by_role("cell").nth(1)).to_have_text("Refused")
    expect(result_of(landline)).to_contain_text("+358 9 1234567 is not a mobile number")
    expect(result_of(no_phone).get_by_role("cell").nth(1)).to_have_text("Refused")
    expect(result_of(no_phone)).to_contain_text("fill in a mobile number")
    for user, other in (sharers, sharers[::-1]):
        expect(result_of(user).get_by_role("cell").nth(1)).to_have_text("Refused")
        expect(result_of(user)).to_contain_text("exactly one person, but ")
        expect(result_of(user)).to_contain_text(other.label)
    for user in (inactive, manager, admin_user):
        expect(result_of(user)).to_have_count(0)

    methods = dict(User.objects.values_list("username", "mfa_method"))
    assert methods == {
        "aino.mobile": MfaMethod.SMS,
        "aaro.mobile": MfaMethod.SMS,
        "lasse.landline": MfaMethod.OFF,
        "noora.nophone": MfaMethod.OFF,
        "sami.shared": MfaMethod.OFF,
        "sini.shared": MfaMethod.OFF,
        "ilkka.inactive": MfaMethod.OFF,
        manager.username: MfaMethod.OFF,
        admin_user.username: MfaMethod.OFF,
    }


def test_a_manager_works_the_help_desk_without_mfa_controls(
    page: Any, sign_in_as: Callable[[User], None], user_factory: Callable[..., User]
) -> None:
    """The help desk (README "Who may do what"): a manager unlocks an agent; the MFA method
    and the Email it sends codes to are shown, not editable, and the list has no Set MFA."""
    from tests.security.test_27_help_desk import lock_and_remember

    user_factory("admin", full_name="Anna Admin")
    manager = user_factory("manager", full_name="Maija Manager")
    agent = user_factory("agent", "email", full_name="Aino Agent", email="aino@example.com")
    lock_and_remember(agent)
    sign_in_as(manager)
    page.goto("/users/")
    expect(page.get_by_role("link", name="Aino Agent", exact=True)).to_be_visible()
    expect(page.locator("#id_method")).to_have_count(0)
    page.get_by_role("link", name="Aino Agent", exact=True).click()
    expect(page.locator("#id_mfa_method")).to_be_disabled()
    expect(page.locator("#id_email")).to_be_disabled()
    expect(page.locator("#id_work_phone")).to_be_enabled()
    expect(page.locator("#mfa-admins-only")).to_have_text(
        "Only an admin can change MFA settings: the method, and the Email or Work phone it "
        "sends codes to."
    )
    expect(page.get_by_role("button", name="Reset authenticator app")).to_have_count(0)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text(f"{agent.label} is unlocked and can sign in again.")).to_be_visible()


def test_admin_deletes_a_user_after_the_confirmation_page(
    page: Page,
    sign_in_as: SignIn,
    admin_user: User,
    user_factory: Callable[..., User],
) -> None:
    user_factory("agent", username="bea.berg", full_name="Bea Berg")
    sign_in_as(admin_user)
    open_user_list(page)
    search_and_open(page, "Bea", "Bea Berg")
    page.get_by_role("link", name="Delete this user and their personal data…").click()
    expect(page.get_by_role("heading", name="Delete Bea Berg?")).to_be_visible()
    # Deactivating stays the first, primary choice.
    expect(page.get_by_role("link", name="Keep the user (deactivate instead)")).to_be_visible()
    page.get_by_role("button", name="Delete Bea Berg").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.get_by_text("Bea Berg (bea.berg) is deleted.")).to_be_visible()
    assert not User.objects.filter(username="bea.berg").exists()
