"""The REST API's writes: create, PATCH, activate/deactivate, unlock, devices, sign-out
everywhere and bulk MFA, through the actions the pages use, refused with the pages' words."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor, Via
from deskgate.accounts.models import AuditEvent, Client, User, UserSession
from deskgate.apitokens.models import ApiToken
from deskgate.signin.models import RememberedDevice, SignInGuard
from tests.api.conftest import Program, problem_of, users_as_stored
from tests.conftest import PASSWORD
from tests.mailbox import last_code

NEW = {"username": "new.agent", "full_name": "New Agent", "email": "new@example.com"}


def action_refusal(call: Callable[[], Any]) -> list[dict[str, Any]]:
    """What the action (the pages' path) says, in the API's field names."""
    with pytest.raises(ValidationError) as refused:
        call()
    rename = {"employment": "active"}
    return [
        {"field": rename.get(field, field), "message": message}
        for field, messages in refused.value.message_dict.items()
        for message in messages
    ]


def refused(response: Any, expected: list[dict[str, Any]]) -> dict[str, Any]:
    body = problem_of(response, 400)
    assert body["errors"] == expected
    assert body["detail"] == " ".join(e["message"] for e in expected)
    return body


# --- create ----------------------------------------------------------------------------------


def test_create_without_password_makes_a_user_who_cannot_sign_in_yet(
    program: Program, tenant: Client
) -> None:
    response = program.post("/users", NEW | {"level": "team_leader", "mfa_method": "email"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["level"] == "team_leader" and body["warnings"] == []
    user = User.objects.get(subject=body["user"]["id"])
    assert (user.client, user.mfa_method, user.has_usable_password()) == (tenant, "email", False)
    event = AuditEvent.objects.get(action="user.created", subject=user)
    assert (
        event.detail["via"] == "api" and event.actor_label == "API token \u201cwrite program\u201d"
    )


def test_create_with_a_password_makes_it_temporary(program: Program) -> None:
    password = "Plenty-long passphrase 42"
    response = program.post("/users", NEW | {"password": password})
    assert response.status_code == 201
    user = User.objects.get(username="new.agent")
    assert check_password(password, user.password) and user.must_change_password
    assert password not in str(list(AuditEvent.objects.values_list("summary", "detail")))


def test_create_keeps_the_directory_attributes(program: Program) -> None:
    body = program.post(
        "/users", NEW | {"external_id": "e-1", "employee_number": "42", "department": "Sales"}
    ).json()["user"]
    assert (body["external_id"], body["employee_number"], body["department"]) == (
        "e-1",
        "42",
        "Sales",
    )


def test_create_refusals_name_the_field_and_the_pages_rule(
    program: Program, tenant: Client, user_factory
) -> None:
    user_factory(username="taken")
    before = users_as_stored()
    cases = [
        NEW | {"username": "taken"},
        NEW | {"username": "no spaces allowed"},
        NEW | {"full_name": "  "},
        NEW | {"level": "manager", "email": ""},
        NEW | {"mfa_method": "sms", "work_phone": ""},  # R3
        NEW | {"mfa_method": "email", "email": "not-an-address"},  # R3
        NEW | {"mfa_method": "sms", "work_phone": "+358 9 1234 567"},  # R3: a landline
    ]
    for body in cases:
        data = actions.UserInput(
            username=body["username"],
            full_name=body["full_name"],
            level=body.get("level", "agent"),
            email=body["email"],
            work_phone=body.get("work_phone", ""),
            mfa_method=body.get("mfa_method", "off"),
            is_active=True,
        )
        expected = action_refusal(partial(actions.create_user, tenant, data, by=OPERATOR))
        refused(program.post("/users", body), expected)
    assert users_as_stored() == before


def test_r1_an_11x_client_is_refused_mfa_with_the_release_reason(
    program_for, legacy_tenant: Client
) -> None:
    legacy = program_for(legacy_tenant)
    before = users_as_stored()
    body = refused(
        legacy.post("/users", NEW | {"mfa_method": "email"}),
        action_refusal(
            lambda: actions.create_user(
                legacy_tenant,
                actions.UserInput(
                    username="new.agent",
                    full_name="New Agent",
                    level="agent",
                    email="new@example.com",
                    work_phone="",
                    mfa_method="email",
                    is_active=True,
                ),
                by=OPERATOR,
            )
        ),
    )
    assert body["errors"][0]["field"] == "mfa_method" and "25." in body["detail"]
    assert users_as_stored() == before
    # Without MFA the 11.x client's program creates users as usual.
    assert legacy.post("/users", NEW).status_code == 201


def test_r4_a_shared_email_is_refused_naming_the_other_user(program: Program, user_factory) -> None:
    user_factory(username="holder", full_name="Hal Holder", email="shared@example.com")
    before = users_as_stored()
    body = problem_of(
        program.post("/users", NEW | {"email": "shared@example.com", "mfa_method": "email"}), 400
    )
    assert body["errors"][0]["field"] == "email"
    assert "Hal Holder" in body["detail"]
    assert users_as_stored() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"full_name": "No User Name"}, "username"),
        (NEW | {"level": "boss"}, "level"),
        (NEW | {"mfa_method": "pigeon"}, "mfa_method"),
        (NEW | {"active": "perhaps"}, "active"),
        (NEW | {"username": 5}, "username"),
        (NEW | {"full_name": "x" * 1001}, "full_name"),
    ],
)
def test_wrong_types_are_422_naming_the_field(program: Program, body, field) -> None:
    before = users_as_stored()
    problem = problem_of(program.post("/users", body), 422)
    assert field in [e["field"] for e in problem["errors"]]
    assert users_as_stored() == before


# --- change ----------------------------------------------------------------------------------


def test_patch_changes_what_is_sent_and_keeps_the_rest(program: Program, user_factory) -> None:
    user = user_factory(username="vera", full_name="Vera V", email="vera@example.com")
    phone = user.work_phone
    # Someone else's edit lands between the program's read and its PATCH: it is kept.
    actions.change_mfa_method(User.objects.get(pk=user.pk), "email", by=OPERATOR)
    response = program.patch(f"/users/{user.subject}", {"full_name": "Vera Virtanen"})
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert (user.full_name, user.mfa_method, user.email, user.work_phone) == (
        "Vera Virtanen",
        "email",
        "vera@example.com",
        phone,
    )
    response = program.patch(
        f"/users/{user.subject}",
        {"work_phone": "0401234567", "mfa_method": "sms", "level": "team_leader"},
    )
    assert response.json()["user"]["work_phone"] == "+358401234567"  # the client's country
    user.refresh_from_db()
    assert (user.level, user.mfa_method) == ("team_leader", "sms")
    events = AuditEvent.objects.filter(subject=user, detail__via="api").values_list(
        "action", flat=True
    )
    assert "user.mfa_changed" in set(events)


def test_patch_refusals_leave_the_user_unchanged(program: Program, user_factory) -> None:
    holder = user_factory(username="holder", full_name="Hal Holder", mfa="sms")
    user = user_factory(username="vera", full_name="Vera V")
    before = users_as_stored()
    expected = action_refusal(
        lambda: actions.update_user(
            user, _with(user, work_phone=holder.work_phone, mfa_method="sms"), by=OPERATOR
        )
    )
    body = refused(
        program.patch(
            f"/users/{user.subject}", {"work_phone": holder.work_phone, "mfa_method": "sms"}
        ),
        expected,
    )
    assert "Hal Holder" in body["detail"]  # R4 names the clashing user
    refused(
        program.patch(f"/users/{user.subject}", {"full_name": ""}),
        [{"field": "full_name", "message": "Full name is mandatory."}],
    )
    assert users_as_stored() == before


def _with(user: User, **changes: Any) -> actions.UserInput:
    data = actions.UserInput.of(user)
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def test_the_last_admin_is_kept(program: Program, admin_user: User) -> None:
    before = users_as_stored()
    expected = action_refusal(lambda: actions.set_user_active(admin_user, False, by=OPERATOR))
    body = refused(program.post(f"/users/{admin_user.subject}/deactivate"), expected)
    assert body["errors"][0]["field"] == "active" and "no active admin left" in body["detail"]
    refused(
        program.patch(f"/users/{admin_user.subject}", {"level": "agent"}),
        action_refusal(
            lambda: actions.update_user(admin_user, _with(admin_user, level="agent"), by=OPERATOR)
        ),
    )
    assert users_as_stored() == before


def test_deactivate_ends_sessions_and_activate_brings_the_user_back(
    program: Program, user_factory, signed_in
) -> None:
    user = user_factory(username="vera")
    browser: HttpClient = signed_in(user)
    assert UserSession.objects.filter(user=user).exists()
    response = program.post(f"/users/{user.subject}/deactivate")
    assert response.status_code == 200 and response.json()["user"]["active"] is False
    assert not UserSession.objects.filter(user=user).exists()
    assert browser.get("/account/").status_code == 302  # signed out
    assert program.post(f"/users/{user.subject}/activate").json()["user"]["active"] is True
    actions_seen = set(
        AuditEvent.objects.filter(subject=user, detail__via="api").values_list("action", flat=True)
    )
    assert {"user.deactivated", "user.activated"} <= actions_seen


# --- sign-in state ---------------------------------------------------------------------------


def _lock_and_remember(user: User) -> None:
    now = timezone.now()
    SignInGuard.objects.update_or_create(
        user=user,
        defaults={"code_failures": 10, "locked_until": now + timedelta(hours=1), "lock_count": 1},
    )
    RememberedDevice.objects.create(
        user=user,
        token_hash=secrets.token_hex(32),
        label="Firefox",
        created_at=now,
        expires_at=now + timedelta(days=30),
    )


def test_unlock_and_revoke_devices(program: Program, user_factory) -> None:
    user = user_factory(username="vera")
    _lock_and_remember(user)
    assert program.post(f"/users/{user.subject}/unlock").json() == {"unlocked": True}
    assert program.post(f"/users/{user.subject}/unlock").json() == {"unlocked": False}
    assert program.post(f"/users/{user.subject}/revoke-devices").json() == {"revoked": 1}
    assert not RememberedDevice.objects.filter(user=user).exists()
    seen = set(
        AuditEvent.objects.filter(subject=user, detail__via="api").values_list("action", flat=True)
    )
    assert {"user.unlocked", "devices.revoked"} <= seen


def test_sign_out_everywhere_ends_every_session_and_is_audited(
    program: Program, user_factory, signed_in
) -> None:
    user = user_factory(username="vera")
    browsers = [signed_in(user), signed_in(user)]
    response = program.post(f"/users/{user.subject}/sign-out-everywhere")
    assert response.json() == {"sessions_ended": 2}
    for browser in browsers:
        assert browser.get("/account/").status_code == 302
    user.refresh_from_db()
    assert user.is_active  # still employed: only signed out
    event = AuditEvent.objects.get(action="signin.signed_out", subject=user)
    assert event.detail["via"] == "api" and event.detail["sessions"] == 2


def test_sign_out_everywhere_forgets_the_remembered_devices(program: Program, user_factory) -> None:
    user = user_factory("agent", "email", username="vera")
    http = HttpClient()
    http.post("/signin/", {"username": user.username, "password": PASSWORD})
    http.post("/signin/code/", {"action": "verify", "code": last_code(user), "remember": "on"})
    assert RememberedDevice.objects.filter(user=user).count() == 1
    assert program.post(f"/users/{user.subject}/sign-out-everywhere").json() == {
        "sessions_ended": 1
    }
    assert not RememberedDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="devices.revoked", subject=user).count() == 1


@pytest.mark.parametrize("action", ["unlock", "revoke-devices", "sign-out-everywhere", "activate"])
def test_actions_on_another_clients_user_are_404(
    program: Program, user_factory, tenant_factory, action
) -> None:
    theirs = user_factory(client=tenant_factory("Globex"))
    before = users_as_stored()
    assert problem_of(program.post(f"/users/{theirs.subject}/{action}"), 404)["detail"] == (
        "No such user."
    )
    assert users_as_stored() == before


def test_a_token_actor_on_another_client_is_refused_by_the_action_too(
    program: Program, user_factory, tenant_factory
) -> None:
    """The API's getter already answers 404; the action's own R10 check stands behind it."""
    theirs = user_factory(client=tenant_factory("Globex"))
    token = ApiToken.objects.get(client=program.client)
    actor = Actor(via=Via.API, token=token.name, token_id=token.pk, client_id=token.client_id)
    with pytest.raises(PermissionDenied):
        actions.sign_out_everywhere(theirs, by=actor)
    with pytest.raises(PermissionDenied):
        actions.set_user_active(theirs, False, by=actor)


# --- bulk MFA --------------------------------------------------------------------------------


def test_bulk_mfa_says_per_user_what_was_applied_and_refused(
    program: Program, user_factory, tenant_factory
) -> None:
    ok = user_factory(username="ok", full_name="A Ok")
    no_phone = user_factory(username="nophone", full_name="B No Phone", work_phone="")
    theirs = user_factory(client=tenant_factory("Globex"), username="theirs")
    missing = "00000000-0000-0000-0000-000000000000"
    response = program.post(
        "/users/bulk-mfa",
        {
            "method": "sms",
            "user_ids": [str(ok.subject), str(no_phone.subject), str(theirs.subject), missing],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["applied"], body["refused"]) == (1, 3)
    by_id = {r["id"]: r for r in body["results"]}
    assert by_id[str(ok.subject)]["applied"] is True
    assert by_id[str(no_phone.subject)]["applied"] is False
    assert "Work phone" in by_id[str(no_phone.subject)]["reason"]
    # Another client's user reads exactly like one that does not exist (R10).
    assert by_id[str(theirs.subject)] | {"id": ""} == by_id[missing] | {"id": ""}
    assert by_id[missing] == {
        "id": missing,
        "username": None,
        "applied": False,
        "reason": "No such user.",
    }
    theirs.refresh_from_db()
    assert theirs.mfa_method == "off"
    assert AuditEvent.objects.get(action="user.bulk_mfa").detail["via"] == "api"


def test_bulk_mfa_by_level(program: Program, user_factory) -> None:
    agents = [user_factory("agent") for _ in range(3)]
    manager = user_factory("manager")
    body = program.post("/users/bulk-mfa", {"method": "email", "level": "agent"}).json()
    assert body["applied"] == 3 and {r["id"] for r in body["results"]} == {
        str(a.subject) for a in agents
    }
    manager.refresh_from_db()
    assert manager.mfa_method == "off"


@pytest.mark.parametrize(
    "body",
    [{"method": "sms"}, {"method": "sms", "level": "agent", "user_ids": []}],
)
def test_bulk_mfa_needs_ids_or_a_level(program: Program, body) -> None:
    problem = problem_of(program.post("/users/bulk-mfa", body), 400)
    assert problem["errors"][0]["field"] == "user_ids"


def test_bulk_mfa_on_an_11x_client_refuses_each_with_the_release_reason(
    program_for, legacy_tenant: Client, user_factory
) -> None:
    user = user_factory(client=legacy_tenant)
    body = (
        program_for(legacy_tenant)
        .post("/users/bulk-mfa", {"method": "email", "user_ids": [str(user.subject)]})
        .json()
    )
    assert body["applied"] == 0 and "25." in body["results"][0]["reason"]
