"""26. Home-realm discovery reveals nothing (issue 15), and its settings stay the admin's.

"Sign in with SSO" takes a work email, a company name or a user name. Whatever leads to no
provider (an unknown domain, a domain registered but not verified, a verified domain of a
company without SSO, an unknown user name, the name of a user whose SSO is optional or who
is inactive) gets exactly the answer an unknown company got before: same status, body,
cookies and headers, after the same database queries. Only verified domains route, one
client per domain; another client's admin, managers and agents change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client
from deskgate.sso import domains
from deskgate.sso.models import ProviderConfig, SsoDomain
from tests.security.conftest import comparable, full_sign_in, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

NO_SSO = "No SSO is set up for that company name."


def with_sso(client: Client, *, mandatory: bool) -> None:
    ProviderConfig.objects.create(
        client=client,
        issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        secret_encrypted="x",
        mandatory=mandatory,
    )


@pytest.fixture
def platform(tenant, tenant_factory, user_factory, dns_server) -> dict[str, Any]:
    with_sso(tenant, mandatory=True)
    contoso = tenant_factory("Contoso")
    with_sso(contoso, mandatory=False)
    legacy = tenant_factory("Legacy")
    for client, name in ((tenant, "northwind.example"), (legacy, "legacy.example")):
        domain = domains.add(client, name, by=OPERATOR)
        dns_server.txt[domains.record_name(domain)] = [domains.record_value(domain)]
        domains.verify(client, domain.pk, by=OPERATOR)
    domains.add(tenant, "brand.example", by=OPERATOR)  # registered, never verified
    user_factory("agent", username="aino.agent")
    user_factory("agent", username="gone.agent", active=False)
    user_factory("agent", username="carl.contoso", client=contoso)
    return {"northwind": tenant, "contoso": contoso, "legacy": legacy}


LEADS_NOWHERE = {
    "unknown company": "Nowhere Inc",
    "unknown domain": "anna@unknown.example",
    "registered, unverified domain": "anna@brand.example",
    "verified domain, no SSO": "anna@legacy.example",
    "unknown user name": "nobody.at.all",
    "user name, SSO optional": "carl.contoso",
    "user name, inactive": "gone.agent",
}


def test_everything_that_leads_nowhere_gets_the_unknown_company_answer(browser, platform) -> None:
    b = browser()
    answers = {}
    for kind, typed in LEADS_NOWHERE.items():
        response = b.post("/signin/sso/", {"company": typed})
        answers[kind] = (
            response.status_code,
            comparable(response, typed),
            sorted(c.name for c in response.cookies),
            sorted(k for k in response.headers if k.lower() not in ("date", "content-length")),
        )
    reference = answers["unknown company"]
    assert reference[0] == 200 and NO_SSO in reference[1]
    for kind, answer in answers.items():
        assert answer == reference, kind
    # A verified domain does route (so the comparison above compares something).
    routed = b.post("/signin/sso/", {"company": "anna@northwind.example"})
    assert routed.status_code == 302
    assert NO_SSO not in visible_text(routed)


def test_the_same_queries_whatever_was_typed(client, platform) -> None:
    counts = {}
    for kind, typed in LEADS_NOWHERE.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/signin/sso/", {"company": typed})
        assert response.status_code == 200
        counts[kind] = len(queries)
    assert len(set(counts.values())) == 1, counts


def _domains() -> list[tuple[int, int, str, bool]]:
    return [(d.pk, d.client_id, d.domain, d.verified) for d in SsoDomain.objects.order_by("pk")]


def test_another_clients_admin_changes_none_of_our_domains(
    browser, platform, user_factory, dns_server
) -> None:
    ours = SsoDomain.objects.get(domain="brand.example")
    dns_server.txt[domains.record_name(ours)] = [domains.record_value(ours)]
    intruder = user_factory("admin", "email", client=platform["contoso"], username="eve.contoso")
    tab = full_sign_in(browser(), intruder)
    before, audited = _domains(), AuditEvent.objects.count()
    for action in ("verify", "remove"):
        response = tab.post(
            "/settings/sso/domains/",
            {"action": action, "domain_id": ours.pk},
            form="/settings/sso/",
        )
        assert response.status_code == 302
        assert "That domain is not on your list any more." in visible_text(
            tab.get("/settings/sso/")
        )
    assert _domains() == before and AuditEvent.objects.count() == audited
    # Their own page lists none of ours.
    page = visible_text(tab.get("/settings/sso/"))
    assert "northwind.example" not in page and "brand.example" not in page


@pytest.mark.parametrize("level", ["manager", "agent"])
def test_managers_and_agents_reach_no_domain_setting(
    browser, platform, user_factory, level: str
) -> None:
    # Northwind's SSO is mandatory (no password sign-in): Contoso's people, on their page.
    person = user_factory(level, "email", client=platform["contoso"], username=f"a.{level}")
    tab = full_sign_in(browser(), person)
    before = _domains()
    for data in (
        {"action": "add", "domain": "evil.example"},
        {"action": "remove", "domain_id": SsoDomain.objects.first().pk},  # type: ignore[union-attr]
    ):
        response = tab.post("/settings/sso/domains/", data, form="/account/")
        assert response.status_code in (403, 404)
    assert tab.get("/settings/sso/").status_code in (403, 404)
    assert _domains() == before
