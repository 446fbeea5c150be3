"""Settings: the client's switches (self-service reset, remember device), for admins only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, Client, User
from tests.pages import controls, field_errors, page_text, snapshot


def test_settings_page_shows_the_clients_switches(admin_http: HttpClient, tenant: Client) -> None:
    response = admin_http.get("/settings/")
    assert response.status_code == 200
    shown = controls(response)
    # Reset is off by default; remembering devices is on.
    assert "password_reset_enabled" not in shown.values
    assert shown.values["remember_device_enabled"] == "on"
    text = page_text(response)
    assert "Settings of Northwind" in text
    assert "Release 25.4 · default country for phone numbers: FI. MFA is available." in text
    assert "Users may reset a forgotten password by email" in text
    assert "Offer “Remember device for 30 days” at sign-in" in text


def test_admin_turns_on_password_reset(
    admin_http: HttpClient, tenant: Client, other_tenant: Client, admin_user: User
) -> None:
    response = admin_http.post(
        "/settings/", {"password_reset_enabled": "on", "remember_device_enabled": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    tenant.refresh_from_db()
    assert tenant.password_reset_enabled and tenant.remember_device_enabled
    other_tenant.refresh_from_db()
    assert not other_tenant.password_reset_enabled
    page = admin_http.get("/settings/")
    assert "The settings are saved." in page_text(page)
    assert controls(page).values["password_reset_enabled"] == "on"
    event = AuditEvent.objects.get(action="client.settings_changed")
    assert (event.client, event.actor) == (tenant, admin_user)


def test_unticked_boxes_turn_switches_off(admin_http: HttpClient, tenant: Client) -> None:
    admin_http.post("/settings/", {"password_reset_enabled": "on"})
    assert admin_http.post("/settings/", {"csrfmiddlewaretoken": "x"}).status_code == 302
    tenant.refresh_from_db()
    assert not tenant.password_reset_enabled
    assert not tenant.remember_device_enabled


def test_11x_client_settings_say_why_mfa_is_missing(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    text = page_text(signed_in(admin).get("/settings/"))
    assert "MFA is only available for clients on release 25.x or later" in text


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_only_admins_change_settings(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    level: str,
) -> None:
    http = signed_in(user_factory(level, username=f"the.{level}"))
    before = snapshot()
    assert http.get("/settings/").status_code == 403
    assert http.post("/settings/", {"password_reset_enabled": "on"}).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(
    "value", ["\x00", "x" * 10_000, "false", "0", "😀", ["on", "off"]], ids=repr
)
def test_garbage_values_never_fail(admin_http: HttpClient, tenant: Client, value: object) -> None:
    response = admin_http.post(
        "/settings/", {"password_reset_enabled": value, "remember_device_enabled": value}
    )
    assert response.status_code in (200, 302)


def test_settings_link_only_for_admins(
    admin_http: HttpClient,
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
) -> None:
    assert 'href="/settings/"' in admin_http.get("/users/").content.decode()
    manager = signed_in(user_factory("manager", username="mikko.manager"))
    assert 'href="/settings/"' not in manager.get("/users/").content.decode()


def test_alert_emails_are_on_by_default_and_an_admin_turns_them_off(
    admin_http: HttpClient, tenant: Client
) -> None:
    page = admin_http.get("/settings/")
    assert controls(page).values["alert_emails"] == "on"
    assert "Email admins about alerts" in page_text(page)
    response = admin_http.post("/settings/", {"remember_device_enabled": "on"})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert not tenant.alert_emails
    event = AuditEvent.objects.filter(action="client.settings_changed").latest("pk")
    assert event.detail["alert_emails"] is False
    assert "alert emails to admins: off" in event.summary


def test_audit_retention_is_set_on_settings_and_audited(
    admin_http: HttpClient, tenant: Client
) -> None:
    assert controls(admin_http.get("/settings/")).values["audit_retention_days"] == "365"
    response = admin_http.post("/settings/", {"alert_emails": "on", "audit_retention_days": "90"})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.audit_retention_days == 90
    assert AuditEvent.objects.filter(summary="Audit events kept 90 days (was 365)").exists()


@pytest.mark.parametrize("typed", ["29", "3651", "-5", "a year"])
def test_a_wrong_retention_keeps_what_was_typed_and_changes_nothing(
    admin_http: HttpClient, tenant: Client, typed: str
) -> None:
    before = snapshot()
    response = admin_http.post(
        "/settings/",
        {"password_reset_enabled": "on", "alert_emails": "on", "audit_retention_days": typed},
    )
    assert response.status_code == 200
    errors = field_errors(response, "audit_retention_days")
    assert errors in (["Enter a number of days from 30 to 3650."], ["Enter a whole number."])
    assert controls(response).values["audit_retention_days"] == typed
    assert snapshot() == before
    tenant.refresh_from_db()
    assert not tenant.password_reset_enabled and tenant.audit_retention_days == 365
