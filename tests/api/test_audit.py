"""The REST API's audit trail: the client's events newest first, filtered and paged, masked
as the audit page shows them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from tests.api.conftest import Program


def _items(program: Program, **params: Any) -> list[dict[str, Any]]:
    response = program.get("/audit", **params)
    assert response.status_code == 200, response.content
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_newest_first_masked_and_with_its_user(reader: Program, vera: User) -> None:
    actions.change_mfa_method(vera, "sms", by=OPERATOR)
    [event] = _items(reader, action="user.mfa_changed")
    assert event["user_id"] == str(vera.subject) and event["user"] == vera.label
    assert event["actor"] == "operator (command line)" and event["via"] == "cli"
    assert event["destination"].startswith("+358 \u2022\u2022")
    assert vera.work_phone not in str(event)
    assert event["action_label"] == "MFA method changed"


def test_filter_by_user_and_time(
    reader: Program, vera: User, user_factory: Callable[..., User]
) -> None:
    other = user_factory()
    mark = timezone.now()
    actions.change_mfa_method(vera, "email", by=OPERATOR)
    actions.change_mfa_method(other, "email", by=OPERATOR)
    mine = _items(reader, user_id=str(vera.subject), since=mark.isoformat())
    assert {e["user_id"] for e in mine} == {str(vera.subject)}
    assert [e["action"] for e in mine] == ["user.mfa_changed"]
    assert _items(reader, until=(mark - timedelta(days=1)).isoformat()) == []
    assert _items(reader, user_id=str(uuid.uuid4())) == []


def test_another_clients_user_shows_nothing(
    reader: Program, tenant_factory: Callable[..., Client], user_factory: Callable[..., User]
) -> None:
    elsewhere = user_factory(client=tenant_factory("Contoso"))
    actions.change_mfa_method(elsewhere, "email", by=OPERATOR)
    assert _items(reader, user_id=str(elsewhere.subject)) == []
    assert all(e["user_id"] != str(elsewhere.subject) for e in _items(reader, limit=200))


def test_cursor_walks_the_trail_once(reader: Program, user_factory: Callable[..., User]) -> None:
    for _ in range(4):
        user_factory()
    expected = list(
        AuditEvent.objects.filter(client=reader.client)
        .order_by("-at", "-id")
        .values_list("id", flat=True)
    )
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "action": "user.created"}
        if cursor:
            params["cursor"] = cursor
        body = reader.get("/audit", **params).json()
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    created = set(
        AuditEvent.objects.filter(action=AuditAction.USER_CREATED).values_list("id", flat=True)
    )
    assert seen == [pk for pk in expected if pk in created]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"action": "user.nothing"}, "action", "no audit action"),
        ({"since": "2026-11-30T08:00:00"}, "since", "with its zone"),
        ({"cursor": "W1tdXQ"}, "cursor", "not one Deskgate gave"),
    ],
)
def test_bad_filters_are_explained(
    reader: Program, params: dict[str, Any], field: str, words: str
) -> None:
    response = reader.get("/audit", **params)
    assert response.status_code == 400
    assert any(e["field"] == field and words in e["message"] for e in response.json()["errors"])


def test_each_read_is_itself_on_the_trail(reader: Program) -> None:
    reader.get("/audit")
    read = AuditEvent.objects.get(action=AuditAction.API_READ)
    assert read.detail["via"] == "api" and read.actor_label == "API token \u201cread program\u201d"
