"""Settings > SSO > Email domains: add, publish, verify, remove, as an admin does on the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditAction, AuditEvent
from deskgate.sso import domains
from deskgate.sso.models import SsoDomain

pytestmark = pytest.mark.django_db

PAGE = "/settings/sso/"
POST = "/settings/sso/domains/"


def test_the_page_lists_the_record_to_publish(admin_http: HttpClient, tenant) -> None:
    response = admin_http.post(POST, {"action": "add", "domain": "Northwind.example"})
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    domain = SsoDomain.objects.get(client=tenant)
    page = admin_http.get(PAGE).content.decode()
    assert "northwind.example is added." in page
    assert "_deskgate.northwind.example" in page and domains.record_value(domain) in page
    assert "Not verified yet" in page


def test_bad_input_says_why_and_keeps_what_was_typed(admin_http: HttpClient, tenant) -> None:
    response = admin_http.post(POST, {"action": "add", "domain": "northwind example"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a domain name such as example.com" in page
    assert 'value="northwind example"' in page
    assert not SsoDomain.objects.exists()


def test_verify_and_remove(admin_http: HttpClient, tenant, dns_server) -> None:
    domain = domains.add(tenant, "northwind.example", by=OPERATOR)
    response = admin_http.post(POST, {"action": "verify", "domain_id": domain.pk}, follow=True)
    assert "does not say deskgate-verification=" in response.content.decode()
    dns_server.txt[domains.record_name(domain)] = [domains.record_value(domain)]
    response = admin_http.post(POST, {"action": "verify", "domain_id": domain.pk}, follow=True)
    page = response.content.decode()
    assert "northwind.example is verified" in page and "Verified on" in page
    response = admin_http.post(POST, {"action": "remove", "domain_id": domain.pk}, follow=True)
    assert "The domain is removed." in response.content.decode()
    assert not SsoDomain.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="sso.domain")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [
        AuditAction.SSO_DOMAIN_ADDED,
        AuditAction.SSO_DOMAIN_VERIFIED,
        AuditAction.SSO_DOMAIN_REMOVED,
    ]


def test_removing_asks_for_the_step_up_verifying_does_not(
    admin_http: HttpClient, tenant, dns_server, clock
) -> None:
    domain = domains.add(tenant, "northwind.example", by=OPERATOR)
    dns_server.txt[domains.record_name(domain)] = [domains.record_value(domain)]
    clock(timedelta(minutes=16))
    response = admin_http.post(POST, {"action": "remove", "domain_id": domain.pk})
    assert response.status_code == 403
    assert "Check your sign-in first" in response.content.decode()
    assert SsoDomain.objects.filter(pk=domain.pk).exists()
    # Verify completes what was added under a step-up; DNS may take hours to catch up.
    response = admin_http.post(POST, {"action": "verify", "domain_id": domain.pk})
    assert response.status_code == 302
    assert SsoDomain.objects.get(pk=domain.pk).verified


def test_a_get_changes_nothing(admin_http: HttpClient) -> None:
    assert admin_http.get(POST).status_code == 405
