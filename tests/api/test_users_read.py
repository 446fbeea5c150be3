"""GET /users and GET /users/{id}: search, filters, cursor pages, and every read audited."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from deskgate.accounts.models import AuditEvent, Client, User
from tests.api.conftest import Program, problem_of


@pytest.fixture
def staff(user_factory: Callable[..., User]) -> dict[str, User]:
    return {
        "ada": user_factory(
            "admin", username="ada", full_name="Ada Lovelace", email="ada@example.com"
        ),
        "bo": user_factory(
            "agent", "sms", username="bo", full_name="Bo Berg", work_phone="+358401234567"
        ),
        "cy": user_factory("agent", "email", username="cy", full_name="Cy Carlsson"),
        "di": user_factory("manager", username="di", full_name="Di Dahl", active=False),
    }


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [u["username"] for u in response.json()["items"]]


def test_list_answers_the_clients_users_by_full_name(program: Program, staff) -> None:
    response = program.get("/users")
    assert names(response) == ["ada", "bo", "cy", "di"]
    first = response.json()["items"][0]
    assert first["id"] == str(staff["ada"].subject)  # the stable id, never the row's pk
    assert first["level"] == "admin" and first["active"] is True
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"level": "agent"}, ["bo", "cy"]),
        ({"mfa_method": "sms"}, ["bo"]),
        ({"mfa_method": "email", "level": "agent"}, ["cy"]),
        ({"active": "false"}, ["di"]),
        ({"active": "true", "level": "manager"}, []),
        ({"q": "carls"}, ["cy"]),  # the User list's own search: full name
        ({"q": "ada@example"}, ["ada"]),  # email
        ({"q": "bo"}, ["bo"]),  # user name
    ],
)
def test_filters_and_search(program: Program, staff, params, expected) -> None:
    assert names(program.get("/users", **params)) == expected


def test_the_cursor_pages_through_without_gaps_or_repeats_under_inserts(
    program: Program, user_factory: Callable[..., User]
) -> None:
    for n in range(7):
        user_factory(username=f"u{n}", full_name=f"Person {n}")
    first = program.get("/users", limit=3).json()
    assert [u["username"] for u in first["items"]] == ["u0", "u1", "u2"]
    # Someone is added before the cursor and someone after it while the caller pages.
    user_factory(username="early", full_name="Person 0a")
    user_factory(username="late", full_name="Person 9")
    seen = [u["username"] for u in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = program.get("/users", limit=3, cursor=cursor).json()
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "late"]


def test_same_full_names_page_by_id(program: Program, user_factory) -> None:
    made = [user_factory(username=f"twin{n}", full_name="Same Name") for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = program.get("/users", **params).json()
        seen += [u["username"] for u in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [u.username for u in made]


@pytest.mark.parametrize("cursor", ["nope", "W10", "WyJhIl0", "WyJhIiwgImIiXQ", "!!!"])
def test_a_cursor_deskgate_did_not_give_is_a_problem_naming_it(program: Program, cursor) -> None:
    body = problem_of(program.get("/users", cursor=cursor), 400)
    assert body["errors"] == [
        {
            "field": "cursor",
            "message": "This cursor is not one Deskgate gave; start again without `cursor`.",
        }
    ]


@pytest.mark.parametrize("limit", [0, 201, -1, "many"])
def test_limit_is_bounded(program: Program, limit) -> None:
    body = problem_of(program.get("/users", limit=limit), 422)
    assert body["errors"][0]["field"] == "limit"


def test_limit_up_to_200(program: Program, staff) -> None:
    assert len(names(program.get("/users", limit=200))) == 4


def test_get_one_user(reader: Program, staff) -> None:
    response = reader.get(f"/users/{staff['bo'].subject}")
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["mfa_method"], body["work_phone"]) == (
        "bo",
        "sms",
        "+358401234567",
    )


def test_another_clients_user_answers_exactly_as_a_missing_one(
    program: Program, user_factory, tenant_factory: Callable[..., Client]
) -> None:
    theirs = user_factory(client=tenant_factory("Globex"), username="globex.agent")
    theirs_answer = program.get(f"/users/{theirs.subject}")
    missing_answer = program.get(f"/users/{uuid4()}")
    assert problem_of(theirs_answer, 404) == problem_of(missing_answer, 404)
    assert theirs_answer.json()["detail"] == "No such user."
    assert "globex.agent" not in names(program.get("/users", q="globex"))


def test_every_read_is_audited_with_the_token_and_the_user_read(reader: Program, staff) -> None:
    reader.get("/users", level="agent")
    reader.get(f"/users/{staff['bo'].subject}")
    listed, read = AuditEvent.objects.filter(action="api.read").order_by("pk")
    assert listed.summary == "Listed 2 users"
    assert listed.detail["via"] == "api" and listed.detail["filters"] == ["level"]
    assert listed.actor_label == "API token \u201cread program\u201d"
    assert read.subject == staff["bo"]
    assert read.summary == "Read Bo Berg (bo)"
