"""The audit trail's filters, pages and CSV (issue 15): by user, event, actor, dates in the
viewer's time zone and free text; bad input explained and kept; the CSV masked as shown."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions, audit
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User
from tests.conftest import VERA_PHONE
from tests.pages import content, field_errors, page_text
from tests.web.test_audit import rows, set_vera


def download(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, page_text(response)[:500]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body)))


def streamed(response: Any) -> str:
    """The body of a streamed download, read to its end."""
    return b"".join(response.streaming_content).decode("utf-8")


def at(moment: str, action: AuditAction, subject: User, summary: str) -> AuditEvent:
    """An event recorded at a given moment (UTC), as audit.record would have then."""
    event = audit.build(
        action, client=subject.client, by=OPERATOR, subject=subject, summary=summary
    )
    event.at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    event.save()
    return event


def test_filter_by_event_actor_user_and_text(
    admin_http: HttpClient, admin_user: User, vera: User, user_factory: Callable[..., User]
) -> None:
    set_vera(admin_http, vera, mfa_method="sms")
    kim = user_factory("agent", username="kim.agent", full_name="Kim Agent")
    actions.change_mfa_method(kim, "email", by=OPERATOR)

    def events(**filters: str) -> list[dict[str, str]]:
        response = admin_http.get("/audit/", filters)
        assert response.status_code == 200, page_text(response)[:500]
        return rows(response)

    changed = events(action="user.mfa_changed")
    assert {(e["whom"], e["who"]) for e in changed} == {
        ("Vera Agent (vera.agent)", "Anna Admin (anna.admin)"),
        ("Kim Agent (kim.agent)", "operator (command line)"),
    }
    assert [e["whom"] for e in events(action="user.mfa_changed", actor="anna")] == [
        "Vera Agent (vera.agent)"
    ]
    assert [e["whom"] for e in events(action="user.mfa_changed", actor="OPERATOR")] == [
        "Kim Agent (kim.agent)"
    ]
    assert {e["event"] for e in events(subject="kim.agent")} == {
        "user.created",
        "user.mfa_changed",
    }
    assert [e["what"] for e in events(q="from off to sms")] == [
        "MFA of Vera Agent (vera.agent) changed from Off to SMS"
    ]
    # The address it came from is searched too.
    assert "signin.success" in {e["event"] for e in events(q="127.0.0")}
    none = admin_http.get("/audit/", {"q": "nobody typed this"})
    assert rows(none) == [] and "No events match these filters." in page_text(none)


def test_dates_are_days_in_the_viewers_zone_and_times_are_shown_in_it(
    admin_http: HttpClient, vera: User, settings: Any
) -> None:
    # The company's zone, which the zone middleware activates for a viewer without their own.
    Client.objects.filter(pk=vera.client_id).update(time_zone="Europe/Helsinki")
    at("2026-11-29T22:30:00", AuditAction.USER_UNLOCKED, vera, "early on the 30th")
    at("2026-11-30T21:59:00", AuditAction.USER_UNLOCKED, vera, "late on the 30th")
    at("2026-11-30T22:00:00", AuditAction.USER_UNLOCKED, vera, "the 1st already")
    at("2026-11-29T21:59:00", AuditAction.USER_UNLOCKED, vera, "still the 29th")
    response = admin_http.get("/audit/", {"since": "2026-11-30", "until": "30.11.2026"})
    assert [e["what"] for e in rows(response)] == ["late on the 30th", "early on the 30th"]
    body = content(response)
    assert "2026-11-30 00:30:00" in body and "2026-11-30 23:59:00" in body
    assert "When (Europe/Helsinki)" in page_text(response)
    assert "Times are in Europe/Helsinki." in page_text(response)
    exported = download(
        admin_http.get("/audit.csv", {"since": "2026-11-30", "until": "2026-11-30"})
    )
    assert [(r["when"], r["time_zone"], r["what"]) for r in exported] == [
        ("2026-11-30 23:59:00", "Europe/Helsinki", "late on the 30th"),
        ("2026-11-30 00:30:00", "Europe/Helsinki", "early on the 30th"),
    ]
    only_since = rows(admin_http.get("/audit/", {"since": "2026-12-01", "action": "user.unlocked"}))
    assert [e["what"] for e in only_since] == ["the 1st already"]


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("since", "2026-13-45", "Enter a date such as 2026-11-30."),
        ("until", "yesterday", "Enter a date such as 2026-11-30."),
        ("since", "0001-01-01", "Enter a date such as 2026-11-30."),
        ("until", "9999-12-31", "Enter a date such as 2026-11-30."),
        ("action", "user.nope", "There is no event user.nope; choose one from the list."),
        ("q", "x" * 101, "Type at most 100 characters."),
        ("actor", "nul\x00here", "Null characters are not allowed."),
    ],
)
def test_bad_filters_say_what_is_wrong_and_keep_what_was_typed(
    admin_http: HttpClient, field: str, typed: str, message: str
) -> None:
    for path in ("/audit/", "/audit.csv"):
        response = admin_http.get(path, {field: typed, "subject": "kept as typed"})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert field_errors(response, field) == [message]
        assert "These filters cannot be used" in page_text(response)
        assert 'value="kept as typed"' in content(response)
        if field in ("since", "until"):
            assert f'value="{typed}"' in content(response)
        assert rows(response) == []


def test_to_before_from(admin_http: HttpClient) -> None:
    response = admin_http.get("/audit/", {"since": "2026-11-30", "until": "2026-11-01"})
    assert response.status_code == 400
    assert field_errors(response, "until") == ["To is before From: swap the dates."]


def test_pages_keep_the_filters(
    admin_http: HttpClient, admin_user: User, user_factory: Callable[..., User]
) -> None:
    for _ in range(55):
        user_factory("agent")
    first = admin_http.get("/audit/", {"action": "user.created", "q": "agent"})
    assert len(rows(first)) == 50
    assert "55 events" in page_text(first)
    older = re.search(r'<a href="\?([^"]+)">Older</a>', content(first))
    assert older and older.group(1) == "action=user.created&amp;q=agent&amp;page=2"
    second = admin_http.get("/audit/?" + older.group(1).replace("&amp;", "&"))
    assert len(rows(second)) == 5
    assert {e["event"] for e in rows(second)} == {"user.created"}
    assert 'href="/audit.csv?action=user.created&amp;q=agent"' in content(second)
    assert (
        len(download(admin_http.get("/audit.csv", {"action": "user.created", "q": "agent"}))) == 55
    )


def test_the_csv_is_the_filtered_rows_masked_as_shown_and_formula_safe(
    admin_http: HttpClient, vera: User, user_factory: Callable[..., User]
) -> None:
    set_vera(admin_http, vera, mfa_method="sms")
    set_vera(admin_http, vera, full_name="=1+2 Vera", mfa_method="sms")
    exported = download(admin_http.get("/audit.csv", {"subject": "vera"}))
    screen = rows(admin_http.get("/audit/", {"subject": "vera"}))
    assert [r["what"] for r in exported] == [
        ("'" + e["what"]) if e["what"].startswith("=") else e["what"] for e in screen
    ]
    assert [r["destination"] for r in exported] == [
        ("'" + e["destination"]) if e["destination"].startswith("+") else e["destination"]
        for e in screen
    ]
    assert "'+358 •• ••• ••05" in [r["destination"] for r in exported]
    renamed = next(r for r in exported if r["event"] == "user.details_changed")
    assert renamed["whom"] == "'=1+2 Vera (vera.agent)"
    raw = streamed(admin_http.get("/audit.csv"))
    assert VERA_PHONE not in raw and VERA_PHONE[1:] not in raw and vera.email not in raw


def test_filtered_pages_keep_their_query_budget(
    admin_http: HttpClient,
    user_factory: Callable[..., User],
    vera: User,
    django_assert_max_num_queries: Any,
) -> None:
    counts = []
    for extra in (5, 60):
        for _ in range(extra):
            user_factory("agent")
        for path, query in (
            ("/audit/", {"action": "user.created", "q": "agent", "since": "2020-01-01"}),
            ("/audit/", {"user": str(vera.pk), "actor": "operator"}),
            ("/audit.csv", {"action": "user.created"}),
        ):
            with django_assert_max_num_queries(6) as captured:
                response = admin_http.get(path, query)
                if path.endswith(".csv"):
                    streamed(response)
            assert response.status_code == 200
            counts.append(len(captured))
    assert counts[:3] == counts[3:]
