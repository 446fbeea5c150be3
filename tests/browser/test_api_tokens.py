"""Settings > API tokens in a real browser: an admin creates a token, copies it once, sees it
listed, and revokes it after confirming."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.audit import Via
from deskgate.accounts.models import User
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.apitokens.conftest import SCIM, bearer

pytestmark = pytest.mark.browser

SHOWN_ONCE = "It is shown only now; Deskgate keeps only a hash."


def test_admin_creates_sees_once_and_revokes_a_token(
    page: Page,
    sign_in_as: Callable[[User], None],
    admin_user: User,
    screenshot: Callable[[], None],
) -> None:
    sign_in_as(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens of Northwind")).to_be_visible()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()

    page.get_by_label("Name").fill("Entra ID provisioning")
    page.get_by_label("Scope").select_option(label="SCIM provisioning")
    expect(page.get_by_label("Expires")).to_have_value("90")
    page.get_by_label("Expires").select_option(label="365 days")
    page.get_by_role("button", name="Create token").click()

    expect(page.get_by_role("status")).to_contain_text(SHOWN_ONCE)
    field = page.get_by_label("Token", exact=True)
    secret = field.input_value()
    assert re.fullmatch(r"dgt_[A-Za-z0-9_-]{43}", secret)
    expect(field).to_have_attribute("readonly", "")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    screenshot()

    row = page.get_by_role("row", name=re.compile("Entra ID provisioning"))
    expect(row).to_contain_text("SCIM provisioning")
    expect(row).to_contain_text(secret[:10] + "\u2026")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Never used")
    use = tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
    assert use.token.name == "Entra ID provisioning"

    # Never again: a later visit lists the token by its first characters only.
    page.goto("/settings/api-tokens/")
    expect(page.get_by_text(SHOWN_ONCE)).to_have_count(0)
    assert secret not in page.content()
    row = page.get_by_role("row", name=re.compile("Entra ID provisioning"))
    expect(row).to_contain_text("from 198.51.100.7")

    row.get_by_role("link", name="Revoke Entra ID provisioning").click()
    expect(
        page.get_by_role("heading", name="Revoke API token Entra ID provisioning?")
    ).to_be_visible()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("API token Entra ID provisioning is revoked")
    row = page.get_by_role("row", name=re.compile("Entra ID provisioning"))
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("link", name=re.compile("Revoke"))).to_have_count(0)
    assert ApiToken.objects.get().revoked_at is not None
    with pytest.raises(tokens.Refused, match="revoked"):
        tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM)
