"""Settings: the client's switches (self-service reset, remember device), for admins only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, Client, User
from tests.pages import controls, page_text, snapshot


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
