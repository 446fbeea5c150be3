"""Home-realm discovery in Chromium: an admin proves an email domain through DNS (a real
server on loopback), then people type their work email, or with mandatory SSO their user
name, and reach the company's provider (the real test OpenID provider) and come back in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client
from deskgate.sso import domains
from tests.browser.steps import provider_login

pytestmark = pytest.mark.browser


def verified_domain(client: Client, name: str, dns_server) -> None:
    domain = domains.add(client, name, by=OPERATOR)
    dns_server.txt[domains.record_name(domain)] = [domains.record_value(domain)]
    domains.verify(client, domain.pk, by=OPERATOR)


def test_an_admin_proves_a_domain_and_a_work_email_signs_in_through_it(
    page: Page, tenant, sso_for, user_factory, sign_in_as, dns_server
) -> None:
    sso_for(tenant)
    admin = user_factory("admin", username="anna.admin", email="anna@northwind.example")
    sami = user_factory("agent", "sms", full_name="Sami Agent", email="sami@northwind.example")
    sign_in_as(admin)
    page.goto("/settings/sso/")
    page.get_by_label("Email domain").fill("Northwind.Example")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_text("northwind.example is added.")).to_be_visible()
    row = page.get_by_role("row", name="northwind.example")
    expect(row).to_contain_text("Not verified yet")
    name = row.locator("code").nth(0).inner_text()
    value = row.locator("code").nth(1).inner_text()
    assert name == "_deskgate.northwind.example" and value.startswith("deskgate-verification=")
    # Before the record is published, Verify says what is missing.
    row.get_by_role("button", name="Verify northwind.example").click()
    expect(page.get_by_text(f"does not say {value} yet")).to_be_visible()
    dns_server.txt[name] = [value]  # the admin publishes the record at their DNS host
    page.get_by_role("row", name="northwind.example").get_by_role("button", name="Verify").click()
    expect(page.get_by_text("northwind.example is verified")).to_be_visible()
    expect(page.get_by_role("row", name="northwind.example")).to_contain_text("Verified on")
    page.get_by_role("button", name="Sign out").click()

    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Work email or company name").fill("sami@northwind.example")
    page.get_by_role("button", name="Continue to your provider").click()
    provider_login(page, "sami")
    expect(page.get_by_role("heading", name="Sami Agent")).to_be_visible()
    assert AuditEvent.objects.filter(
        action="signin.success", subject=sami, detail__method="sso"
    ).exists()


def test_an_unknown_domain_gets_the_unknown_company_answer(
    page: Page, tenant, sso_for, dns_server
) -> None:
    sso_for(tenant)
    verified_domain(tenant, "northwind.example", dns_server)
    page.goto("/signin/sso/")
    page.get_by_label("Work email or company name").fill("sami@elsewhere.example")
    page.get_by_role("button", name="Continue to your provider").click()
    expect(page.get_by_text("No SSO is set up for that company name.")).to_be_visible()
    expect(page.get_by_label("Work email or company name")).to_have_value("sami@elsewhere.example")


def test_with_mandatory_sso_the_user_name_alone_goes_to_the_provider(
    page: Page, tenant, sso_for, user_factory
) -> None:
    sso_for(tenant, mandatory=True)
    user_factory(
        "agent", username="anna.agent", full_name="Anna Agent", email="anna@northwind.example"
    )
    page.goto("/signin/")
    page.get_by_label("User name").fill("anna.agent")
    page.get_by_role("button", name="Sign in").click()
    provider_login(page, "anna")
    expect(page.get_by_role("heading", name="Anna Agent")).to_be_visible()
