"""The factor policy on the pages (issue 14): the Settings form, the Create user form under
"new agents get SMS", the user list's factors and the user page's policy line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from tests.authenticator import enrol
from tests.pages import content, controls, field_errors, form_errors_text, page_text, snapshot

BASE = {"password_reset_enabled": "on", "remember_device_enabled": "on", "sms_countries": ""}


def _checked(response, level: str) -> bool:
    body = content(response)
    for tag in body.split("<input")[1:]:
        if 'name="strong_factor_levels"' in tag and f'value="{level}"' in tag:
            return " checked" in tag.split(">")[0]
    raise AssertionError(f"no box for {level}")


def test_admin_sets_the_policy_on_the_settings_page(admin_http: HttpClient, tenant: Client) -> None:
    page = admin_http.get("/settings/")
    text = page_text(page)
    assert "Levels that must use an authenticator app or a passkey" in text
    assert "MFA method for users created later, by level" in text
    assert "Allow passwordless sign-in with a passkey" in text
    assert "Minutes a checked second factor counts for sensitive changes" in text
    assert controls(page).values["step_up_minutes"] == "15"
    response = admin_http.post(
        "/settings/",
        BASE
        | {
            "strong_factor_levels": ["admin", "manager"],
            "new_user_mfa_agent": "sms",
            "new_user_mfa_team_leader": "email",
            "passwordless_enabled": "on",
            "step_up_minutes": "10",
        },
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.strong_factor_levels == "admin manager"
    assert tenant.new_user_mfa == {"agent": "sms", "team_leader": "email"}
    assert tenant.passwordless_enabled and tenant.step_up_minutes == 10
    page = admin_http.get("/settings/")
    shown = controls(page)
    assert _checked(page, "admin") and _checked(page, "manager") and not _checked(page, "agent")
    assert shown.values["new_user_mfa_agent"] == "sms"
    assert shown.values["new_user_mfa_admin"] == ""
    assert shown.values["step_up_minutes"] == "10"
    event = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).latest("id")
    assert event.detail["new_user_mfa"] == {"agent": "sms", "team_leader": "email"}


@pytest.mark.parametrize("minutes", ["0", "1441", "soon", "-5", "9" * 30])
def test_bad_minutes_are_refused_and_what_was_typed_stays(
    admin_http: HttpClient, tenant: Client, minutes: str
) -> None:
    before = snapshot()
    response = admin_http.post(
        "/settings/",
        BASE
        | {
            "strong_factor_levels": ["admin"],
            "new_user_mfa_agent": "sms",
            "step_up_minutes": minutes,
        },
    )
    assert response.status_code == 200
    assert field_errors(response, "step_up_minutes")
    shown = controls(response)
    assert shown.values["step_up_minutes"] == minutes
    assert shown.values["new_user_mfa_agent"] == "sms" and _checked(response, "admin")
    assert snapshot() == before


@pytest.mark.parametrize("value", ["\x00", "pigeon", "x" * 5000, ["sms", "email"]], ids=repr)
def test_garbage_choices_never_fail(admin_http: HttpClient, tenant: Client, value) -> None:
    before = snapshot()
    response = admin_http.post(
        "/settings/",
        BASE | {"strong_factor_levels": value, "new_user_mfa_agent": value},
    )
    assert response.status_code == 200
    assert snapshot() == before


def test_an_11x_client_is_told_the_policy_does_not_apply(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    http = signed_in(admin)
    page = http.get("/settings/")
    assert "The factor policy does not apply: MFA is only available" in page_text(page)
    assert "strong_factor_levels" in controls(page).disabled
    # A forced value is ignored (disabled fields keep what is stored).
    http.post("/settings/", BASE | {"strong_factor_levels": ["admin"], "new_user_mfa_agent": "sms"})
    legacy_tenant.refresh_from_db()
    assert legacy_tenant.strong_factor_levels == "" and legacy_tenant.new_user_mfa == {}


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_only_admins_change_the_policy(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    tenant: Client,
    level: str,
) -> None:
    http = signed_in(user_factory(level, username=f"the.{level}"))
    before = snapshot()
    response = http.post("/settings/", BASE | {"strong_factor_levels": ["agent"]})
    assert response.status_code == 403
    assert snapshot() == before


# --- Create user under "new agents get SMS" -------------------------------------------


NEW = {
    "username": "new.agent",
    "full_name": "New Agent",
    "level": "agent",
    "employment": "active",
    "email": "new.agent@example.com",
    "work_phone": "",
    "mfa_method": "",
}


def test_create_page_applies_the_levels_method(admin_http: HttpClient, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "sms"})
    page = admin_http.get("/users/create/")
    shown = controls(page)
    assert shown.values["mfa_method"] == "" and "As Settings say for the level" in content(page)
    response = admin_http.post("/users/create/", NEW | {"work_phone": "040 765 4321"})
    assert response.status_code == 302
    assert User.objects.get(username="new.agent").mfa_method == "sms"


def test_create_page_refuses_with_the_rules_words(admin_http: HttpClient, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "sms"})
    before = snapshot()
    response = admin_http.post("/users/create/", NEW)
    assert response.status_code == 200
    assert any(
        e.startswith("The settings give new agents SMS MFA")
        for e in field_errors(response, "mfa_method")
    )
    assert any("SMS MFA sends the code" in e for e in field_errors(response, "work_phone"))
    assert "Nothing was saved." in form_errors_text(response)
    assert controls(response).values["username"] == "new.agent"
    assert snapshot() == before
    # Choosing Off creates the user.
    assert admin_http.post("/users/create/", NEW | {"mfa_method": "off"}).status_code == 302


def test_without_a_policy_the_form_is_as_before(admin_http: HttpClient) -> None:
    page = admin_http.get("/users/create/")
    assert "As Settings say for the level" not in content(page)
    assert controls(page).values["mfa_method"] == "off"


# --- what each user has ---------------------------------------------------------------


def test_the_list_shows_the_app_and_the_user_page_the_policy(
    admin_http: HttpClient, user_factory: Callable[..., User], tenant: Client
) -> None:
    with_app = user_factory("manager", "email", full_name="Mona Manager")
    without = user_factory("manager", "sms", full_name="Max Manager")
    enrol(with_app)
    rows = content(admin_http.get("/users/")).split("<tr>")
    mona = next(r for r in rows if "Mona Manager" in r)
    max_ = next(r for r in rows if "Max Manager" in r)
    assert "<td>Email · App</td>" in mona
    assert "<td>SMS</td>" in max_ and "App" not in max_
    Client.objects.filter(pk=tenant.pk).update(strong_factor_levels="manager")
    meets = page_text(admin_http.get(f"/users/{with_app.pk}/"))
    assert (
        "requires managers to use an authenticator app or a passkey. Mona Manager meets it."
        in meets
    )
    fails = admin_http.get(f"/users/{without.pk}/")
    assert "Max Manager does not meet it yet" in page_text(fails)
    assert f'action="/users/{without.pk}/enrolment-link/"' in content(fails)
    assert "Send set-up link" in page_text(fails)
    assert f'action="/users/{with_app.pk}/enrolment-link/"' not in content(
        admin_http.get(f"/users/{with_app.pk}/")
    )
