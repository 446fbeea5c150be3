"""The audit trail page (R9): the admin's client only, masked destinations, filter by user."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, Client, User
from tests.conftest import VERA_PHONE, sign_in
from tests.pages import content, page_text

VERA_NEW_PHONE = "+358401110077"


def rows(response: Any) -> list[dict[str, str]]:
    """The audit table, one dict per event, newest first."""
    found = re.findall(
        r"<tr><td><time[^>]*>.*?</time></td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>"
        r"<td>(.*?)</td><td>(.*?)</td><td><code>(.*?)</code></td></tr>",
        content(response),
        re.S,
    )
    keys = ("what", "who", "whom", "destination", "from", "event")
    return [dict(zip(keys, (html.unescape(v) for v in row), strict=True)) for row in found]


@pytest.fixture
def outsider(user_factory: Callable[..., User], other_tenant: Client) -> User:
    otto = user_factory(
        "admin", client=other_tenant, username="otto.outsider", full_name="Otto Outsider"
    )
    sign_in(HttpClient(), otto, "wrong password for otto")
    sign_in(HttpClient(), otto)
    return otto


def set_vera(http: HttpClient, vera: User, **changes: str) -> None:
    data = {
        "username": vera.username,
        "full_name": vera.full_name,
        "level": "agent",
        "employment": "active",
        "email": vera.email,
        "work_phone": VERA_PHONE,
        "mfa_method": "off",
    }
    data.update(changes)
    response = http.post(f"/users/{vera.pk}/", data)
    assert response.status_code == 302, page_text(response)[:1000]


def test_trail_lists_events_of_the_admins_client_only(
    admin_http: HttpClient, vera: User, outsider: User
) -> None:
    sign_in(HttpClient(), vera, "not vera's password")
    response = admin_http.get("/audit/")
    assert response.status_code == 200
    events = rows(response)
    summaries = [e["what"] for e in events]
    assert "Created Vera Agent (vera.agent) as Agent" in summaries
    assert "Anna Admin (anna.admin) signed in (password)" in summaries
    assert "Sign-in of Vera Agent (vera.agent) refused at the password step" in summaries
    text = page_text(response)
    assert "Otto" not in text and "otto.outsider" not in text and "Contoso" not in text
    assert {e["event"] for e in events} >= {"user.created", "signin.success", "signin.failure"}
    failure = next(e for e in events if e["event"] == "signin.failure")
    assert (failure["whom"], failure["from"]) == ("Vera Agent (vera.agent)", "127.0.0.1")
    # Newest first.
    assert events[0]["event"] == "signin.failure"


def test_mfa_and_contact_changes_show_masked_destinations_only(
    admin_http: HttpClient, vera: User
) -> None:
    set_vera(admin_http, vera, mfa_method="sms")
    set_vera(admin_http, vera, mfa_method="sms", work_phone=VERA_NEW_PHONE)
    set_vera(admin_http, vera, mfa_method="email", work_phone=VERA_NEW_PHONE)
    response = admin_http.get("/audit/")
    by_event: dict[str, list[dict[str, str]]] = {}
    for event in rows(response):
        by_event.setdefault(event["event"], []).append(event)
    assert [e["destination"] for e in by_event["user.mfa_changed"]] == [
        "v••••@northwind.example",
        "+358 •• ••• ••05",
    ]
    assert by_event["user.mfa_changed"][1]["what"] == (
        "MFA of Vera Agent (vera.agent) changed from Off to SMS"
    )
    assert [e["destination"] for e in by_event["user.contact_changed"]] == [
        "+358 •• ••• ••05 → +358 •• ••• ••77"
    ]
    assert_no_full_contact(content(response), vera)


def assert_no_full_contact(body: str, user: User) -> None:
    for number in (VERA_PHONE, VERA_NEW_PHONE):
        national = number.removeprefix("+358")
        for shown in (number, number[1:], "0" + national, national, national[-7:]):
            assert shown not in body, shown
        assert "+358 40 " + national[2:] not in body
    assert user.email not in body


def test_trail_stores_no_full_number_code_or_password(admin_http: HttpClient, vera: User) -> None:
    set_vera(admin_http, vera, mfa_method="sms", password="a brand new temporary password")
    set_vera(admin_http, vera, work_phone=VERA_NEW_PHONE)
    stored = json.dumps(
        list(AuditEvent.objects.values("summary", "detail", "actor_label", "subject_label")),
        ensure_ascii=False,
    )
    for secret in (VERA_PHONE, VERA_PHONE[1:], VERA_NEW_PHONE, VERA_NEW_PHONE[1:]):
        assert secret not in stored
    assert "brand new temporary" not in stored


def test_filter_by_user(admin_http: HttpClient, vera: User, admin_user: User) -> None:
    set_vera(admin_http, vera, mfa_method="email")
    response = admin_http.get("/audit/", {"user": vera.pk})
    assert response.status_code == 200
    events = rows(response)
    assert {e["whom"] for e in events} == {"Vera Agent (vera.agent)"}
    assert [e["event"] for e in events] == ["user.mfa_changed", "user.created"]
    text = page_text(response)
    assert "Audit trail of Vera Agent" in text
    assert "Everyone's events" in text
    # The user's form links to the same view.
    form = admin_http.get(f"/users/{vera.pk}/")
    assert f'href="/audit/?user={vera.pk}"' in content(form)


@pytest.mark.parametrize("value", ["abc", "\x00", "-1", "9" * 30, "1.0", "0"])
def test_filter_by_garbage_is_404(admin_http: HttpClient, value: str) -> None:
    assert admin_http.get("/audit/", {"user": value}).status_code == 404


def test_filter_by_another_clients_user_is_404(admin_http: HttpClient, outsider: User) -> None:
    response = admin_http.get("/audit/", {"user": outsider.pk})
    assert response.status_code == 404
    assert "Otto" not in page_text(response)


def test_trail_pages_newest_first_with_bounded_queries(
    admin_http: HttpClient,
    admin_user: User,
    user_factory: Callable[..., User],
    django_assert_max_num_queries: Any,
) -> None:
    counts = []
    for extra in (5, 60):
        for _ in range(extra):
            user_factory("agent")
        with django_assert_max_num_queries(6) as captured:
            response = admin_http.get("/audit/")
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert len(rows(response)) == 50
    older = admin_http.get("/audit/", {"page": 2})
    assert len(rows(older)) == AuditEvent.objects.filter(client=admin_user.client).count() - 50
    assert rows(older)[0]["event"] == "user.created"


def test_manager_sees_the_trail(
    user_factory: Callable[..., User], signed_in: Callable[[User], HttpClient]
) -> None:
    manager = user_factory("manager", username="mikko.manager", full_name="Mikko Manager")
    response = signed_in(manager).get("/audit/")
    assert response.status_code == 200
    assert "Mikko Manager (mikko.manager) signed in (password)" in page_text(response)
