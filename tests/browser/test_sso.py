"""SSO end to end in Chromium against a real OpenID Connect provider on loopback (R6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from deskgate.accounts.models import AuditEvent, Client
from deskgate.conf import parse_sms_url
from deskgate.delivery.models import OutboxMessage
from deskgate.signin.models import PendingSignIn
from deskgate.sso import flows
from deskgate.sso.models import SsoIdentity
from tests.browser.steps import provider_login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def start_sso(page: Page, company: str) -> None:
    page.goto("/signin/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Company").fill(company)
    page.get_by_role("button", name="Continue to your provider").click()


def test_sso_user_with_sms_mfa_goes_straight_in(
    page: Page, tenant: Client, sso_for, user_factory, settings, sms_gateway, smtp
) -> None:
    settings.DESKGATE_SMS = parse_sms_url(sms_gateway.url)
    sso_for(tenant)
    sami = user_factory(
        "agent", "sms", username="sami", full_name="Sami Agent", email="sami@northwind.example"
    )
    start_sso(page, "northwind")  # the company name, in any case
    provider_login(page, "sami")
    expect(page.get_by_role("heading", name="Sami Agent")).to_be_visible()
    assert page.url.endswith("/account/")
    # No code: nothing reached Kannel, the SMTP server or the outbox.
    assert sms_gateway.messages == [] and smtp.messages == []
    assert not OutboxMessage.objects.exists()
    assert AuditEvent.objects.filter(
        action="signin.success", subject=sami, detail__method="sso"
    ).exists()
    identity = SsoIdentity.objects.get(user=sami)
    assert identity.subject == "sub-sami" and identity.client_id == tenant.pk


def test_the_per_company_address_starts_sso(page: Page, tenant, sso_for, user_factory) -> None:
    sso_for(tenant)
    user_factory("admin", username="anna", full_name="Anna Admin", email="anna@northwind.example")
    page.goto(f"/signin/sso/{tenant.slug}/")
    provider_login(page, "anna")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("stranger", "There is no active Deskgate account with this email address"),
        ("unverified", "has not verified this email address"),
    ],
)
def test_unknown_or_unverified_email_is_refused(
    page: Page, tenant, sso_for, user_factory, login: str, message: str
) -> None:
    sso_for(tenant)
    user_factory("agent", email="eve@northwind.example")
    start_sso(page, "Northwind")
    provider_login(page, login)
    expect(page.get_by_text(message)).to_be_visible()
    assert page.url.endswith("/signin/")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert AuditEvent.objects.filter(action="signin.sso_refused").exists()


def test_an_inactive_user_is_refused(page: Page, tenant, sso_for, user_factory) -> None:
    sso_for(tenant)
    user_factory("agent", email="anna@northwind.example", active=False)
    start_sso(page, "Northwind")
    provider_login(page, "anna")
    expect(page.get_by_text("There is no active Deskgate account")).to_be_visible()
    assert not PendingSignIn.objects.exists()


def test_the_same_email_in_another_client_is_not_reachable(
    page: Page, tenant, tenant_factory, sso_for, user_factory
) -> None:
    other = tenant_factory("Other Contact")
    sso_for(tenant)
    sso_for(other)
    mine = user_factory("agent", full_name="Anna Northwind", email="anna@northwind.example")
    theirs = user_factory(
        "agent", client=other, full_name="Anna Other", email="anna@northwind.example"
    )
    start_sso(page, "Northwind")
    provider_login(page, "anna")
    expect(page.get_by_role("heading", name="Anna Northwind")).to_be_visible()
    assert not SsoIdentity.objects.filter(user=theirs).exists()
    assert SsoIdentity.objects.filter(user=mine).exists()


def test_mandatory_sso_blocks_the_password_form(page: Page, tenant, sso_for, user_factory) -> None:
    user = user_factory("agent", email="anna@northwind.example")
    sso_for(tenant, mandatory=True)
    page.goto("/signin/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The user name or password is not right.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def _callback_url(page: Page, tenant: Client, login: str, issuer: str) -> str:
    """Go through the provider but hold the browser before our callback; answer its URL.

    Playwright cannot stop a redirect, so the provider's answer to the login form is
    fetched here, its redirects followed with the browser's cookies up to our callback's
    address, and the browser shown a plain page instead.
    """
    seen: list[str] = []

    def hold(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        url = route.request.url
        location = response.headers.get("location", "")
        for _ in range(5):
            url = urljoin(url, location)
            if "/signin/sso/callback/" in url:
                seen.append(url)
                break
            location = page.request.get(url, max_redirects=0).headers.get("location", "")
        route.fulfill(status=200, content_type="text/plain", body="held by the test")

    def at_provider(url: str) -> bool:
        return url.startswith(issuer)

    page.route(at_provider, hold)
    page.goto(f"/signin/sso/{tenant.slug}/")
    provider_login(page, login)
    expect(page.get_by_text("held by the test")).to_be_visible()
    page.unroute(at_provider)
    assert seen, "the provider did not send the browser back"
    return seen[0]


def test_a_tampered_state_is_refused(
    page: Page, tenant, sso_for, user_factory, oidc_provider
) -> None:
    sso_for(tenant)
    user_factory("agent", email="anna@northwind.example")
    url = _callback_url(page, tenant, "anna", oidc_provider.issuer)
    page.goto(url.replace("state=", "state=x"))
    expect(
        page.get_by_text("This SSO sign-in was not started here or was already used.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_replayed_callback_is_refused(
    page: Page, tenant, sso_for, user_factory, oidc_provider
) -> None:
    sso_for(tenant)
    user_factory("agent", full_name="Anna Agent", email="anna@northwind.example")
    url = _callback_url(page, tenant, "anna", oidc_provider.issuer)
    page.goto(url)
    expect(page.get_by_role("heading", name="Anna Agent")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.goto(url)  # the same code and state once more
    expect(
        page.get_by_text("This SSO sign-in was not started here or was already used.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_wrong_nonce_is_refused(page: Page, tenant, sso_for, user_factory, oidc_provider) -> None:
    sso_for(tenant)
    user_factory("agent", email="anna@northwind.example")
    url = _callback_url(page, tenant, "anna", oidc_provider.issuer)
    cookie = next(c for c in page.context.cookies() if c["name"] == "deskgate_session")
    session = SessionStore(session_key=cookie["value"])
    flow = session[flows.SESSION_KEY]
    flow["nonce"] = "not-the-nonce-that-was-sent"
    session[flows.SESSION_KEY] = flow
    session.save()
    page.goto(url)
    expect(page.get_by_text("ID token did not check out")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_require_idp_mfa_asks_for_our_code_unless_the_provider_did_mfa(
    page: Page, tenant, sso_for, user_factory
) -> None:
    sso_for(tenant, require_idp_mfa=True)
    user_factory("agent", "email", email="anna@northwind.example")
    user_factory("agent", "email", full_name="Sami Agent", email="sami@northwind.example")
    start_sso(page, "Northwind")
    provider_login(page, "anna")  # the provider says nothing of MFA: our code is owed
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.get_by_label("Remember device for 30 days")).to_have_count(0)  # not for SSO
    page.get_by_role("button", name="Back to sign-in").click()
    page.context.clear_cookies()  # sign out at the provider too
    start_sso(page, "Northwind")
    provider_login(page, "sami")  # amr ["pwd", "mfa"]: straight in
    expect(page.get_by_role("heading", name="Sami Agent")).to_be_visible()


def test_user_cannot_be_taken_over_by_an_email_change_at_the_provider(tenant, user_factory) -> None:
    # The first SSO sign-in bound anna's account to subject sub-anna; a different subject
    # presenting anna's address later is refused (the provider changed who has it).
    anna = user_factory("agent", email="anna@northwind.example")
    SsoIdentity.objects.create(client=tenant, user=anna, issuer="http://idp", subject="sub-anna")
    config = type("C", (), {"issuer": "http://idp"})()
    with pytest.raises(flows.Refused) as refused:
        flows._user_for(
            tenant,
            config,
            {"sub": "sub-mallory", "email": "anna@northwind.example", "email_verified": True},
        )
    assert refused.value.reason == "subject_mismatch"
    assert SsoIdentity.objects.get(user=anna).subject == "sub-anna"  # the binding holds
