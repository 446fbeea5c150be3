"""GET /audit: the client's trail, newest first, filtered by user, action and time, paged by
cursor, masked as the audit page shows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, User
from tests.api.conftest import Program, problem_of


@pytest.fixture
def vera(user_factory: Callable[..., User]) -> User:
    user = user_factory(username="vera", full_name="Vera V", work_phone="+358401234567")
    actions.change_mfa_method(user, "sms", by=OPERATOR)
    return user


def items(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["items"]


def test_the_trail_is_newest_first_and_masked(reader: Program, vera: User) -> None:
    trail = items(reader.get("/audit", user_id=str(vera.subject)))
    assert [e["action"] for e in trail] == ["user.mfa_changed", "user.created"]
    changed = trail[0]
    assert changed["user_id"] == str(vera.subject) and changed["user"] == "Vera V (vera)"
    assert changed["destination"] == "+358 \u2022\u2022 \u2022\u2022\u2022 \u2022\u202267"
    assert "+358401234567" not in str(trail)


def test_filter_by_action_and_time(reader: Program, vera: User, clock) -> None:
    start = clock(timedelta())
    clock(timedelta(hours=1))
    actions.unlock_user(vera, by=OPERATOR)  # not locked: nothing recorded
    actions.set_user_active(vera, False, by=OPERATOR)
    only = items(reader.get("/audit", action="user.deactivated"))
    assert [e["action"] for e in only] == ["user.deactivated"]
    since = (start + timedelta(minutes=30)).isoformat()
    later = items(reader.get("/audit", since=since))
    assert "user.deactivated" in [e["action"] for e in later]
    assert "user.created" not in [e["action"] for e in later]
    earlier = items(reader.get("/audit", until=since))
    assert "user.deactivated" not in [e["action"] for e in earlier]


def test_an_unknown_action_and_a_time_without_a_zone_are_refused(reader: Program) -> None:
    # A query parameter, not a query of the trail: an action no event can have.
    body = problem_of(reader.get("/audit", **{"action": "user.nope"}), 400)
    assert body["errors"] == [{"field": "action", "message": "There is no audit action user.nope."}]
    body = problem_of(reader.get("/audit", since="2026-11-30T08:00:00"), 400)
    assert body["errors"][0]["field"] == "since"
    problem_of(reader.get("/audit", since="yesterday"), 422)


def test_the_cursor_pages_back_in_time(program: Program, user_factory) -> None:
    for n in range(5):
        user_factory(username=f"p{n}")
    expected = list(
        AuditEvent.objects.filter(client=program.client, action="user.created")
        .order_by("-at", "-pk")
        .values_list("pk", flat=True)
    )
    seen: list[int] = []
    params: dict = {"action": "user.created", "limit": 2}
    while True:
        page = program.get("/audit", **params).json()
        seen += [e["id"] for e in page["items"]]
        if not page["next_cursor"]:
            break
        # New events while paging go to the front; the pages already handed out stay as they were.
        user_factory(username=f"late{len(seen)}")
        params["cursor"] = page["next_cursor"]
    assert seen == expected


def test_another_clients_events_and_users_never_show(
    program: Program, user_factory, tenant_factory
) -> None:
    other = tenant_factory("Globex")
    theirs = user_factory(client=other, username="theirs")
    own = items(program.get("/audit"))
    assert all(e["user"] != "theirs" and "Globex" not in e["summary"] for e in own)
    assert items(program.get("/audit", user_id=str(theirs.subject))) == []
    # A cursor names a moment and a row, never a client: it shows only the caller's events.
    last = AuditEvent.objects.filter(client=other).order_by("-at", "-pk").first()
    assert last is not None
    from deskgate.api import cursors

    forged = cursors.encode(last.at + timedelta(seconds=1), last.pk + 1)
    assert all(
        e["id"] not in set(AuditEvent.objects.filter(client=other).values_list("pk", flat=True))
        for e in items(program.get("/audit", cursor=forged))
    )


def test_reading_the_trail_is_itself_on_the_trail(reader: Program) -> None:
    reader.get("/audit")
    event = AuditEvent.objects.get(action="api.read")
    assert event.summary.startswith("Read ") and event.detail["via"] == "api"
    assert quote(event.detail["path"]) == "/api/v1/audit"
