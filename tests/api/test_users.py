"""The REST API's users: every operation, the rules' refusals with the pages' words, and a
database left as it was after each refusal (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deskgate.accounts.models import AuditAction, AuditEvent, Client, User, UserSession
from deskgate.signin.models import RememberedDevice, SignInGuard
from tests.api.conftest import Program

PROBLEM = "application/problem+json"


def _snapshot() -> tuple[Any, ...]:
    users = list(User.objects.order_by("pk").values())
    writes = AuditEvent.objects.exclude(
        action__in=[AuditAction.API_READ, AuditAction.TOKEN_REFUSED]
    ).count()
    return users, writes


def _refused(response: Any, status: int, field: str | None, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert words in body["detail"], body
    if field is not None:
        assert any(e["field"] == field and words in e["message"] for e in body["errors"]), body
    return body


# --- reading ----------------------------------------------------------------------------------


def test_list_is_by_full_name_with_every_field(
    program: Program, user_factory: Callable[..., User]
) -> None:
    user_factory(full_name="Bertta B", username="bertta")
    user_factory(full_name="Aada A", username="aada", work_phone="+358401234567")
    response = program.get("/users")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [u["full_name"] for u in items] == ["Aada A", "Bertta B"]
    aada = items[0]
    assert aada["username"] == "aada" and aada["work_phone"] == "+358401234567"
    assert uuid.UUID(aada["id"]) == User.objects.get(username="aada").subject
    assert set(aada) >= {"level", "mfa_method", "active", "external_id", "department"}
    assert response.json()["next_cursor"] is None


def test_filters_and_search(program: Program, user_factory: Callable[..., User]) -> None:
    user_factory("agent", "sms", username="sms.agent", full_name="Sanna Sms")
    user_factory("team_leader", username="tl", full_name="Teemu Leader")
    user_factory("agent", username="gone", full_name="Gone Agent", active=False)

    def names(**params: Any) -> list[str]:
        response = program.get("/users", **params)
        assert response.status_code == 200, response.content
        return [u["username"] for u in response.json()["items"]]

    assert names(level="team_leader") == ["tl"]
    assert names(mfa_method="sms") == ["sms.agent"]
    assert names(active="false") == ["gone"]
    assert names(q="teemu") == ["tl"]
    assert names(q="sanna", level="agent", active="true") == ["sms.agent"]


def test_cursor_pages_through_everyone_once_even_as_users_are_added(
    program: Program, user_factory: Callable[..., User]
) -> None:
    for n in range(5):
        user_factory(full_name=f"Person {n}", username=f"p{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = program.get("/users", **params).json()
        seen += [u["username"] for u in body["items"]]
        if len(seen) == 2:
            user_factory(full_name="Aaron First", username="first")  # before the cursor
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{n}" for n in range(5)]


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WyJhIiwgInRleHQiXQ", "e30"])
def test_a_cursor_deskgate_did_not_give_is_refused(program: Program, cursor: str) -> None:
    _refused(program.get("/users", cursor=cursor), 400, "cursor", "not one Deskgate gave")


def test_limits_are_bounded(program: Program) -> None:
    _refused(program.get("/users", limit=201), 422, "limit", "less than or equal to 200")
    _refused(program.get("/users", limit=0), 422, "limit", "greater than or equal to 1")


def test_get_one_and_its_read_is_on_the_users_trail(program: Program, vera: User) -> None:
    response = program.get(f"/users/{vera.subject}")
    assert response.status_code == 200
    assert response.json()["email"] == "vera@northwind.example"
    read = AuditEvent.objects.get(action=AuditAction.API_READ, subject=vera)
    assert read.detail["via"] == "api" and read.detail["token"] == "write program"


def test_another_clients_user_answers_as_a_missing_one(
    program: Program, tenant_factory: Callable[..., Client], user_factory: Callable[..., User]
) -> None:
    elsewhere = user_factory(client=tenant_factory("Contoso"))
    theirs = program.get(f"/users/{elsewhere.subject}")
    missing = program.get(f"/users/{uuid.uuid4()}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


# --- creating and changing ------------------------------------------------------------------


def test_create_with_a_temporary_password(program: Program, tenant: Client) -> None:
    before = _snapshot()
    response = program.post(
        "/users",
        {
            "username": "new.agent",
            "full_name": "New Agent",
            "email": "new@northwind.example",
            "work_phone": "040 765 4321",
            "mfa_method": "sms",
            "password": "a temporary passphrase 42",
            "external_id": "E-1",
            "department": "Sales",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["work_phone"] == "+358407654321"  # the client's default country
    assert body["user"]["department"] == "Sales" and body["warnings"] == []
    user = User.objects.get(username="new.agent")
    assert user.must_change_password and user.check_password("a temporary passphrase 42")
    assert user.client == tenant and user.external_id == "E-1"
    created = AuditEvent.objects.get(action=AuditAction.USER_CREATED, subject=user)
    assert created.actor_label == "API token \u201cwrite program\u201d"
    assert created.detail["via"] == "api"
    assert _snapshot()[1] == before[1] + 1


def test_create_without_a_password_gives_an_unusable_one(program: Program) -> None:
    response = program.post("/users", {"username": "nopass", "full_name": "No Pass"})
    assert response.status_code == 201
    assert not User.objects.get(username="nopass").has_usable_password()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"username": "has space", "full_name": "X Y"}, "username", "no spaces"),
        ({"username": "ok.name", "full_name": "   "}, "full_name", "Full name is mandatory"),
        ({"username": "ok.name", "full_name": "X Y", "mfa_method": "email"}, "email", "Email"),
        (
            {
                "username": "ok.name",
                "full_name": "X Y",
                "work_phone": "09 123 4567",
                "mfa_method": "sms",
            },
            "work_phone",
            "mobile",
        ),
        ({"username": "ok.name", "full_name": "X Y", "password": "short"}, "password", ""),
    ],
)
def test_create_refused_by_a_rule_changes_nothing(
    program: Program, body: dict[str, Any], field: str, words: str
) -> None:
    before = _snapshot()
    response = program.post("/users", body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    errors = response.json()["errors"]
    assert any(words in e["message"] for e in errors), errors
    assert _snapshot() == before


def test_a_taken_user_name_is_refused_whatever_its_case(program: Program, vera: User) -> None:
    before = _snapshot()
    _refused(
        program.post("/users", {"username": "VERA.agent", "full_name": "Other Vera"}),
        400,
        "username",
        "taken",
    )
    assert _snapshot() == before


def test_r1_an_11x_client_cannot_have_mfa(
    program_for: Callable[..., Program], legacy_tenant: Client
) -> None:
    legacy = program_for(legacy_tenant)
    before = _snapshot()
    body = _refused(
        legacy.post(
            "/users",
            {
                "username": "l.agent",
                "full_name": "L A",
                "email": "l@x.example",
                "mfa_method": "email",
            },
        ),
        400,
        "mfa_method",
        "release 25.x",
    )
    assert legacy_tenant.release in body["detail"]
    assert _snapshot() == before


def test_r4_a_shared_email_cannot_receive_codes(
    program: Program, user_factory: Callable[..., User]
) -> None:
    holder = user_factory(
        username="holder", full_name="Hanna Holder", email="desk@northwind.example"
    )
    other = user_factory(username="other", email="desk@northwind.example")
    before = _snapshot()
    body = _refused(
        program.patch(f"/users/{other.subject}", {"mfa_method": "email"}),
        400,
        "email",
        "Hanna Holder",
    )
    assert holder.username in body["detail"]
    assert _snapshot() == before


def test_patch_changes_only_what_was_sent(program: Program, vera: User) -> None:
    response = program.patch(
        f"/users/{vera.subject}", {"work_phone": "+358 40 111 2222", "department": "Support"}
    )
    assert response.status_code == 200, response.content
    vera.refresh_from_db()
    assert vera.work_phone == "+358401112222" and vera.department == "Support"
    assert vera.full_name == "Vera Agent" and vera.email == "vera@northwind.example"
    changed = AuditEvent.objects.get(action=AuditAction.USER_CONTACT_CHANGED, subject=vera)
    assert "+358401112222" not in str(changed.detail)  # masked on the trail


def test_patch_of_an_empty_body_changes_nothing(program: Program, vera: User) -> None:
    before = _snapshot()
    assert program.patch(f"/users/{vera.subject}", {}).status_code == 200
    assert _snapshot() == before


def test_the_last_admin_cannot_be_deactivated(program: Program, admin_user: User) -> None:
    before = _snapshot()
    _refused(program.post(f"/users/{admin_user.subject}/deactivate"), 400, "active", "last one")
    assert _snapshot() == before


def test_deactivate_ends_sessions_and_activate_restores(
    program: Program, vera: User, signed_in: Callable[..., Any]
) -> None:
    signed_in(vera)
    assert UserSession.objects.filter(user=vera).exists()
    response = program.post(f"/users/{vera.subject}/deactivate")
    assert response.status_code == 200 and response.json()["user"]["active"] is False
    assert not UserSession.objects.filter(user=vera).exists()
    response = program.post(f"/users/{vera.subject}/activate")
    assert response.json()["user"]["active"] is True


def test_unlock_revoke_devices_and_sign_out_everywhere(
    program: Program, vera: User, signed_in: Callable[..., Any]
) -> None:
    assert program.post(f"/users/{vera.subject}/unlock").json() == {"unlocked": False}
    now = timezone.now()
    SignInGuard.objects.update_or_create(
        user=vera,
        defaults={"code_failures": 10, "locked_until": now + timedelta(hours=1), "lock_count": 1},
    )
    assert program.post(f"/users/{vera.subject}/unlock").json() == {"unlocked": True}
    RememberedDevice.objects.create(
        user=vera,
        token_hash=secrets.token_hex(32),
        label="Firefox",
        created_at=now,
        expires_at=now + timedelta(days=30),
    )
    assert program.post(f"/users/{vera.subject}/revoke-devices").json() == {"revoked": 1}
    signed_in(vera)
    signed_in(vera)
    response = program.post(f"/users/{vera.subject}/sign-out-everywhere")
    assert response.json() == {"sessions_ended": 2}
    assert not UserSession.objects.filter(user=vera).exists()


def test_bulk_mfa_says_per_user_what_was_applied_and_refused(
    program: Program, user_factory: Callable[..., User]
) -> None:
    good = user_factory(username="good", full_name="A Good")
    bad = user_factory(username="bad", full_name="B Bad", email="")
    response = program.post(
        "/users/bulk-mfa", {"method": "email", "user_ids": [str(good.subject), str(bad.subject)]}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["applied"], body["refused"]) == (1, 1)
    results = {r["username"]: r for r in body["results"]}
    assert results["good"]["applied"] and results["good"]["reason"] == "MFA set to Email."
    assert not results["bad"]["applied"] and "Email" in results["bad"]["reason"]
    assert User.objects.get(pk=good.pk).mfa_method == "email"
    assert User.objects.get(pk=bad.pk).mfa_method == "off"


def test_bulk_mfa_by_level(program: Program, user_factory: Callable[..., User]) -> None:
    agents = [user_factory("agent") for _ in range(3)]
    user_factory("team_leader")
    body = program.post("/users/bulk-mfa", {"method": "email", "level": "agent"}).json()
    assert body["applied"] == 3
    assert {r["id"] for r in body["results"]} == {str(a.subject) for a in agents}


@pytest.mark.parametrize(
    "body", [{"method": "email"}, {"method": "email", "level": "agent", "user_ids": []}]
)
def test_bulk_mfa_needs_either_ids_or_a_level(program: Program, body: dict[str, Any]) -> None:
    _refused(program.post("/users/bulk-mfa", body), 400, "user_ids", "either user_ids or level")


# --- malformed requests -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["{nope", "[]", '"text"', "null", "1e999999"])
def test_a_body_that_is_not_a_user_is_a_problem_not_a_500(program: Program, raw: str) -> None:
    response = program.post("/users", raw=raw)
    assert response.status_code in (400, 422), response.content
    assert response["Content-Type"] == PROBLEM


def test_wrong_types_name_the_field(program: Program) -> None:
    _refused(
        program.post("/users", {"username": 5, "full_name": "X"}),
        422,
        "username",
        "valid string",
    )
    _refused(
        program.post("/users", {"username": "a", "full_name": "X", "level": "boss"}),
        422,
        "level",
        "admin",
    )


def test_unknown_routes_and_ids_are_problems(program: Program) -> None:
    for path in ("/nothing", "/users/not-a-uuid", "/users/"):
        response = program.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM


# --- cost -------------------------------------------------------------------------------------


def test_a_page_of_users_costs_the_same_statements_for_5_or_50(
    program: Program, user_factory: Callable[..., User]
) -> None:
    def statements() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert program.get("/users", limit=50).status_code == 200
        return len(seen.captured_queries)

    for _ in range(5):
        user_factory()
    few = statements()
    for _ in range(45):
        user_factory()
    assert statements() == few <= 8
