"""SSO email domains: add, prove by DNS (a real server on loopback), remove, and route.

The DNS server is tests/harness/dns.py, an authoritative server the product asks through
dnspython, as it asks the system's resolver in production.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client
from deskgate.sso import discovery, domains
from deskgate.sso.models import ProviderConfig, SsoDomain

pytestmark = pytest.mark.django_db


def with_sso(client: Client, *, mandatory: bool = False) -> Client:
    ProviderConfig.objects.create(
        client=client,
        issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        secret_encrypted="x",
        mandatory=mandatory,
    )
    return client


def publish(dns_server: Any, domain: SsoDomain) -> None:
    dns_server.txt.setdefault(domains.record_name(domain), []).append(domains.record_value(domain))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("example.com", "example.com"),
        ("  Example.COM. ", "example.com"),
        ("@northwind.example", "northwind.example"),
        ("mail.northwind.co.uk", "mail.northwind.co.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("localhost", None),
        ("example", None),
        ("-bad.example", None),
        ("bad-.example", None),
        ("under_score.example", None),
        ("two..dots.example", None),
        ("a b.example", None),
        ("192.0.2.1", None),
        ("anna@example.com", None),
        ("x" * 64 + ".example", None),
        ("", None),
    ],
)
def test_what_is_a_domain(typed: str, expected: str | None) -> None:
    assert domains.normalise(typed) == expected


def test_adding_gives_a_record_to_publish_and_is_audited(tenant) -> None:
    domain = domains.add(tenant, "Northwind.example", by=OPERATOR)
    assert domain.domain == "northwind.example" and not domain.verified
    assert domains.record_name(domain) == "_deskgate.northwind.example"
    value = domains.record_value(domain)
    assert value.startswith("deskgate-verification=") and len(value) > 40
    event = AuditEvent.objects.get(action=AuditAction.SSO_DOMAIN_ADDED)
    assert event.client == tenant and event.detail["domain"] == "northwind.example"
    # Every domain gets its own random value.
    other = domains.add(tenant, "brand.example", by=OPERATOR)
    assert domains.record_value(other) != value


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not a domain", "Enter a domain name such as example.com"),
        ("NORTHWIND.example", "northwind.example is already on your list."),
    ],
)
def test_bad_domains_are_refused_and_change_nothing(tenant, typed: str, message: str) -> None:
    domains.add(tenant, "northwind.example", by=OPERATOR)
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        domains.add(tenant, typed, by=OPERATOR)
    assert message in " ".join(refused.value.messages)
    assert SsoDomain.objects.count() == 1 and AuditEvent.objects.count() == before


def test_an_agent_or_another_clients_admin_cannot_add(tenant, tenant_factory, user_factory) -> None:
    agent = user_factory("agent")
    intruder = user_factory("admin", client=tenant_factory("Contoso"))
    for actor in (agent, intruder):
        with pytest.raises(PermissionDenied):
            domains.add(tenant, "northwind.example", by=Actor(user=actor))
    assert not SsoDomain.objects.exists()


def test_verify_reads_the_txt_record(tenant, dns_server) -> None:
    domain = domains.add(tenant, "northwind.example", by=OPERATOR)
    with pytest.raises(ValidationError) as missing:
        domains.verify(tenant, domain.pk, by=OPERATOR)
    assert "does not say deskgate-verification=" in missing.value.messages[0]
    dns_server.txt["_deskgate.northwind.example"] = ["v=spf1 -all", "deskgate-verification=old"]
    with pytest.raises(ValidationError):
        domains.verify(tenant, domain.pk, by=OPERATOR)
    assert not SsoDomain.objects.get().verified
    publish(dns_server, domain)
    verified = domains.verify(tenant, domain.pk, by=OPERATOR)
    assert verified.verified
    assert "_deskgate.northwind.example" in dns_server.queries
    assert AuditEvent.objects.filter(
        action=AuditAction.SSO_DOMAIN_VERIFIED, client=tenant, detail__domain="northwind.example"
    ).exists()


def test_a_dns_failure_says_so_and_verifies_nothing(tenant, dns_server) -> None:
    domain = domains.add(tenant, "northwind.example", by=OPERATOR)
    publish(dns_server, domain)
    dns_server.failing = True
    with pytest.raises(ValidationError) as failed:
        domains.verify(tenant, domain.pk, by=OPERATOR)
    assert "DNS did not answer for _deskgate.northwind.example" in failed.value.messages[0]
    assert not SsoDomain.objects.get().verified


def test_a_domain_verified_by_one_client_cannot_be_verified_by_another(
    tenant, tenant_factory, dns_server
) -> None:
    contoso = tenant_factory("Contoso")
    first = domains.add(tenant, "shared.example", by=OPERATOR)
    second = domains.add(contoso, "shared.example", by=OPERATOR)  # registering is allowed
    publish(dns_server, first)
    publish(dns_server, second)
    domains.verify(tenant, first.pk, by=OPERATOR)
    with pytest.raises(ValidationError) as taken:
        domains.verify(contoso, second.pk, by=OPERATOR)
    assert "already verified for another company" in taken.value.messages[0]
    assert list(SsoDomain.objects.filter(verified_at__isnull=False)) == [first]


def test_another_clients_domain_id_answers_as_a_missing_one(
    tenant, tenant_factory, dns_server
) -> None:
    contoso = tenant_factory("Contoso")
    theirs = domains.add(contoso, "contoso.example", by=OPERATOR)
    publish(dns_server, theirs)
    for act in (domains.verify, domains.remove):
        with pytest.raises(ValidationError) as refused:
            act(tenant, theirs.pk, by=OPERATOR)
        assert refused.value.messages == ["That domain is not on your list any more."]
    assert SsoDomain.objects.get() == theirs and not theirs.verified


def race(clients: list[Client], pending: list[SsoDomain]) -> list[str]:
    """Each client verifies its own registration of the domain, both starting together."""
    barrier = threading.Barrier(2)
    outcomes = ["", ""]

    def verify(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            domains.verify(clients[i], pending[i].pk, by=OPERATOR)
            outcomes[i] = "verified"
        except ValidationError as exc:
            outcomes[i] = exc.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=verify, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_clients_verifying_the_same_domain_at_once_one_wins(tenant_factory, dns_server) -> None:
    """Both pass the DNS check (both values are published); the partial unique constraint
    lets one commit. Several rounds, each started together at a barrier."""
    clients = [tenant_factory("Northwind"), tenant_factory("Contoso")]
    for round_ in range(5):
        name = f"race{round_}.example"
        pending = [domains.add(c, name, by=OPERATOR) for c in clients]
        for domain in pending:
            publish(dns_server, domain)
        outcomes = race(clients, pending)
        assert sorted(outcomes)[1] == "verified", outcomes
        assert "already verified for another company" in sorted(outcomes)[0], outcomes
        assert SsoDomain.objects.filter(domain=name, verified_at__isnull=False).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SSO_DOMAIN_VERIFIED).count() == 5


def test_removing_stops_the_routing_and_is_audited(tenant, dns_server) -> None:
    with_sso(tenant)
    domain = domains.add(tenant, "northwind.example", by=OPERATOR)
    publish(dns_server, domain)
    domains.verify(tenant, domain.pk, by=OPERATOR)
    assert discovery.client_for("aino@northwind.example") == tenant
    domains.remove(tenant, domain.pk, by=OPERATOR)
    assert discovery.client_for("aino@northwind.example") is None
    event = AuditEvent.objects.get(action=AuditAction.SSO_DOMAIN_REMOVED)
    assert event.detail["domain"] == "northwind.example" and event.detail["was_verified"] is True


@pytest.fixture
def routed(tenant, tenant_factory, user_factory, dns_server) -> dict[str, Client]:
    """Northwind: SSO mandatory, northwind.example verified, brand.example not verified.
    Contoso: SSO optional. Legacy: no SSO, its domain verified."""
    with_sso(tenant, mandatory=True)
    contoso = with_sso(tenant_factory("Contoso"))
    legacy = tenant_factory("Legacy")
    for client, name in ((tenant, "northwind.example"), (legacy, "legacy.example")):
        domain = domains.add(client, name, by=OPERATOR)
        publish(dns_server, domain)
        domains.verify(client, domain.pk, by=OPERATOR)
    domains.add(tenant, "brand.example", by=OPERATOR)
    user_factory("agent", username="aino.agent")
    user_factory("agent", username="gone.agent", active=False)
    user_factory("agent", username="carl.contoso", client=contoso)
    user_factory("agent", username="lea.legacy", client=legacy)
    return {"Northwind": tenant, "Contoso": contoso}


@pytest.mark.parametrize(
    ("typed", "goes_to"),
    [
        ("aino@northwind.example", "Northwind"),
        ("  Aino.Agent@NORTHWIND.example ", "Northwind"),
        ("northwind", "Northwind"),  # the company's name, as before
        ("Contoso", "Contoso"),
        ("aino.agent", "Northwind"),  # a user name, SSO mandatory
        ("AINO.AGENT", "Northwind"),
        ("gone.agent", None),  # inactive
        ("carl.contoso", None),  # SSO not mandatory: the password page is theirs
        ("lea.legacy", None),
        ("anyone@brand.example", None),  # registered, not verified
        ("anyone@legacy.example", None),  # verified, but that client has no SSO
        ("anyone@unknown.example", None),
        ("nobody.at.all", None),
        ("Nowhere Inc", None),
        ("@", None),
        ("", None),
    ],
)
def test_which_provider_the_typed_text_leads_to(
    routed, typed: str, goes_to: str | None, django_assert_num_queries
) -> None:
    # The same four queries whatever was typed: an unknown name is not answered faster.
    with django_assert_num_queries(4):
        client = discovery.client_for(typed)
    assert client == (routed[goes_to] if goes_to else None)
