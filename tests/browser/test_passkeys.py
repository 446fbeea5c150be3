"""Passkeys in a real browser: Chromium's virtual authenticator (the DevTools Protocol's
WebAuthn domain, through Playwright's CDP session) plays a platform passkey with user
verification. Add a passkey from the account page, sign out, sign in with the password and
the passkey, then without a password when the client allows it, and remove the passkey.

WebAuthn wants a secure context: the live server is http://localhost (one, as 127.0.0.1
may not be), and DESKGATE_BASE_URL is set to it, so the RP ID is "localhost" and the
origin the server expects is the page's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.models import AuditAction, AuditEvent, Client, User, UserSession
from deskgate.signin.models import Passkey
from tests.browser.steps import enter_code
from tests.conftest import PASSWORD
from tests.mailbox import codes_sent_to, last_code

pytestmark = pytest.mark.browser


@pytest.fixture
def authenticator(page: Page, live_server: Any, settings: Any) -> dict[str, Any]:
    """A virtual CTAP2 platform authenticator with resident keys and user verification."""
    assert urlsplit(live_server.url).hostname == "localhost", live_server.url
    settings.DESKGATE_BASE_URL = live_server.url
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    made = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return {"cdp": cdp, "id": made["authenticatorId"]}


def sign_in_with_password(page: Page, user: User) -> None:
    page.goto("/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_add_a_passkey_sign_in_with_it_passwordless_and_remove_it(
    page: Page, user_factory: Callable[..., User], authenticator: dict[str, Any]
) -> None:
    user = user_factory("agent", "email", username="pia.key", full_name="Pia Key")
    sign_in_with_password(page, user)
    enter_code(page, last_code(user))
    expect(page.get_by_role("heading", name="Pia Key")).to_be_visible()

    page.get_by_role("link", name="Add a passkey or security key").click()
    expect(page.get_by_role("heading", name="Add a passkey or security key")).to_be_visible()
    page.get_by_label("Name of the key").fill("Work laptop")
    page.get_by_role("button", name="Add the key").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_text("Your passkey is added")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("link", name=re.compile("I have saved them")).click()
    table = page.get_by_role("table", name="Passkeys and security keys")
    expect(table.get_by_role("cell", name="Work laptop", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="never", exact=True)).to_be_visible()
    creds = authenticator["cdp"].send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator["id"]}
    )["credentials"]
    assert len(creds) == 1 and creds[0]["isResidentCredential"]
    page.get_by_role("button", name="Sign out").click()

    # The password, then the passkey as the second factor: no Email code sent.
    sent_before = codes_sent_to(user)
    sign_in_with_password(page, user)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page.get_by_role("heading", name="Pia Key")).to_be_visible()
    assert codes_sent_to(user) == sent_before
    amr = UserSession.objects.get(user=user).amr
    assert amr[0] == "pwd" and amr[1] in {"hwk", "swk"} and amr[2:] == ["user", "mfa"]
    page.get_by_role("button", name="Sign out").click()

    # Passwordless: refused until the client allows it, then one click.
    page.get_by_role("button", name="Use a passkey", exact=True).click()
    expect(page.get_by_text(re.compile("That passkey could not sign you in"))).to_be_visible()
    Client.objects.filter(pk=user.client_id).update(passwordless_enabled=True)
    page.get_by_role("button", name="Use a passkey", exact=True).click()
    expect(page.get_by_role("heading", name="Pia Key")).to_be_visible()
    assert UserSession.objects.get(user=user).amr[1:] == ["user", "mfa"]

    # Remove it: the passwordless sign-in checked both factors just now.
    page.get_by_role("button", name="Remove Work laptop").click()
    expect(page.get_by_text("The key “Work laptop” is removed.")).to_be_visible()
    assert not Passkey.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(subject=user, action=AuditAction.PASSKEY_REMOVED).exists()
