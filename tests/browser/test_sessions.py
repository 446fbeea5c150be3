"""Your account > Your sessions, and an admin's Sign out everywhere, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client as HttpClient
from playwright.sync_api import Page, expect

from deskgate.accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SignIn = Callable[[User], None]
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def signed_in_elsewhere(user: User) -> HttpClient:
    """Another browser of the user (a phone), signed in through the real pages."""
    http = HttpClient(HTTP_USER_AGENT=PHONE)
    response = http.post("/signin/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/"
    return http


def test_a_user_ends_their_session_on_another_device(
    page: Page, sign_in_as: SignIn, user_factory: Callable[..., User]
) -> None:
    agent = user_factory("agent", username="aino.agent", full_name="Aino Agent")
    phone = signed_in_elsewhere(agent)
    sign_in_as(agent)
    page.goto("/account/")
    sessions = page.get_by_role("table").filter(has_text="this session")
    expect(sessions.get_by_role("row")).to_have_count(3)  # the header and two sessions
    expect(sessions).to_contain_text("Mobile Safari on iOS")
    expect(sessions).to_contain_text("Local network")
    page.get_by_role("button", name=re.compile(r"^End the session on Mobile Safari on iOS")).click()
    expect(page.get_by_role("status")).to_contain_text(
        "The session on Mobile Safari on iOS is ended: it is signed out."
    )
    expect(sessions.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("button", name="End all other sessions")).to_have_count(0)
    assert phone.get("/account/").status_code == 302


def test_an_admin_signs_a_user_out_everywhere(
    page: Page, sign_in_as: SignIn, admin_user: User, user_factory: Callable[..., User]
) -> None:
    agent = user_factory("agent", username="bea.berg", full_name="Bea Berg")
    phones = [signed_in_elsewhere(agent), signed_in_elsewhere(agent)]
    sign_in_as(admin_user)
    page.goto(f"/users/{agent.pk}/")
    listed = page.get_by_role("table").filter(has_text="Mobile Safari on iOS")
    expect(listed.get_by_role("row")).to_have_count(3)  # the header and two sessions
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Bea Berg (bea.berg) is signed out everywhere: 2 sessions ended"
    )
    expect(page.get_by_text("Not signed in anywhere.")).to_be_visible()
    assert all(p.get("/account/").status_code == 302 for p in phones)
