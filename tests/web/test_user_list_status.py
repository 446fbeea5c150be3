"""Users > User list as an admin works from it: status badges and filters, sortable columns,
select-all, the MFA column on release 11.x, and the status at the top of the user page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts.models import Client, User
from deskgate.signin.models import SignInGuard
from tests.authenticator import enrol as enrol_app
from tests.pages import content, listed_users, page_text
from tests.web.test_user_list import MAX_QUERIES


def lock(user: User) -> None:
    """The guard row as ten wrong codes leave it (as tests/web/test_user_rights.py does)."""
    SignInGuard.objects.update_or_create(
        user=user,
        defaults={
            "code_failures": 10,
            "locked_until": timezone.now() + timedelta(hours=1),
            "lock_count": 1,
        },
    )


@pytest.fixture
def staff(user_factory: Callable[..., User], other_tenant: Client) -> dict[str, User]:
    found = {
        "locked": user_factory("agent", "email", full_name="Lotta Locked"),
        "nodest": user_factory("agent", full_name="Niilo Nowhere", email="", work_phone=""),
        "sms": user_factory("team_leader", "sms", full_name="Saara Sms"),
        "app": user_factory("agent", full_name="Aapo App"),
        "gone": user_factory("agent", "email", full_name="Ilmari Inactive", active=False),
        "outsider": user_factory("agent", client=other_tenant, full_name="Otto Outsider"),
    }
    lock(found["locked"])
    enrol_app(found["app"])
    lock(found["outsider"])
    return found


def row_of(response: Any, name: str) -> str:
    """The visible text of the list row whose Name is `name`."""
    for row in re.findall(r"<tr>(.*?)</tr>", content(response), re.S):
        if f">{name}</a>" in row:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
    raise AssertionError(f"{name} is not listed")


def test_each_row_shows_its_status_as_words(admin_http: HttpClient, staff: dict[str, User]) -> None:
    page = admin_http.get("/users/", {"status": "all"})
    assert row_of(page, "Lotta Locked").endswith("Active Locked Never")
    assert row_of(page, "Niilo Nowhere").endswith("Active MFA off No destination Never")
    assert row_of(page, "Saara Sms").endswith("Active Never")
    assert "Off · App" in row_of(page, "Aapo App")
    assert row_of(page, "Aapo App").endswith("Active Never")  # an app: not "MFA off"
    assert row_of(page, "Ilmari Inactive").endswith("Inactive Never")
    body = content(page)
    assert '<span class="badge badge-locked" title="Too many wrong codes' in body
    assert '<span class="badge badge-inactive">Inactive</span>' in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"flag": "locked"}, ["Lotta Locked"], id="locked"),
        pytest.param(
            {"flag": "mfa_off"}, ["Anna Admin", "Niilo Nowhere"], id="MFA off, not the app user"
        ),
        pytest.param({"flag": "no_destination"}, ["Niilo Nowhere"], id="no destination"),
        pytest.param({"flag": "sso"}, [], id="SSO: none without SSO"),
        pytest.param({"mfa": "sms"}, ["Saara Sms"], id="method SMS"),
        pytest.param({"mfa": "app"}, ["Aapo App"], id="an authenticator app"),
        pytest.param({"mfa": "passkey"}, [], id="a passkey"),
        pytest.param(
            {"mfa": "email", "status": "all"}, ["Ilmari Inactive", "Lotta Locked"], id="+"
        ),
        pytest.param({"flag": "mfa_off", "q": "niilo"}, ["Niilo Nowhere"], id="with a search"),
        pytest.param({"flag": "locked", "level": "team_leader"}, [], id="with a level"),
        pytest.param(
            {"flag": "wizard", "mfa": "carrier-pigeon"},
            ["Aapo App", "Anna Admin", "Lotta Locked", "Niilo Nowhere", "Saara Sms"],
            id="unknown values filter nothing",
        ),
    ],
)
def test_status_and_mfa_filters_combine_with_the_search(
    admin_http: HttpClient, staff: dict[str, User], params: dict[str, str], expected: list[str]
) -> None:
    assert listed_users(admin_http.get("/users/", params)) == expected


def test_filters_are_in_the_address_and_kept_by_pages_and_headings(
    admin_http: HttpClient, user_factory: Callable[..., User]
) -> None:
    for i in range(55):
        user_factory("agent", full_name=f"Agent {i:02d}")
    page = admin_http.get("/users/", {"flag": "mfa_off", "mfa": "off", "sort": "-username"})
    body = html.unescape(content(page))
    assert 'href="?q=&level=&status=active&flag=mfa_off&mfa=off&sort=-username&page=2">Next' in (
        body
    )
    # A heading's link keeps the filters, starts at page 1, and flips the order it shows.
    assert 'href="?q=&level=&status=active&flag=mfa_off&mfa=off&sort=username"' in body
    assert 'href="?q=&level=&status=active&flag=mfa_off&mfa=off&sort=level"' in body
    assert '<option value="mfa_off" selected>MFA off</option>' in body
    assert '<input type="hidden" name="sort" value="-username">' in body
    # "All that match" carries the filters without the order.
    assert 'name="filter" value="q=&level=&status=active&flag=mfa_off&mfa=off"' in body


@pytest.mark.parametrize(
    ("sort", "expected", "sorted_heading"),
    [
        ("", ["Aapo App", "Anna Admin", "Lotta Locked", "Niilo Nowhere", "Saara Sms"], "Name"),
        ("-name", ["Saara Sms", "Niilo Nowhere", "Lotta Locked", "Anna Admin", "Aapo App"], "Name"),
        (
            "level",
            ["Anna Admin", "Saara Sms", "Aapo App", "Lotta Locked", "Niilo Nowhere"],
            "Level",
        ),
        ("mfa", ["Aapo App", "Anna Admin", "Niilo Nowhere", "Lotta Locked", "Saara Sms"], "MFA"),
        (
            "-mfa",
            ["Saara Sms", "Lotta Locked", "Niilo Nowhere", "Anna Admin", "Aapo App"],
            "MFA",
        ),
        (
            "last_sign_in",
            ["Anna Admin", "Aapo App", "Lotta Locked", "Niilo Nowhere", "Saara Sms"],
            "Last sign-in",
        ),
        (
            "DROP TABLE",
            ["Aapo App", "Anna Admin", "Lotta Locked", "Niilo Nowhere", "Saara Sms"],
            "Name",
        ),
        ("-", ["Aapo App", "Anna Admin", "Lotta Locked", "Niilo Nowhere", "Saara Sms"], "Name"),
    ],
)
def test_columns_sort_and_say_so(
    admin_http: HttpClient,
    staff: dict[str, User],
    sort: str,
    expected: list[str],
    sorted_heading: str,
) -> None:
    page = admin_http.get("/users/", {"sort": sort})
    assert page.status_code == 200
    assert listed_users(page) == expected
    headings = re.findall(r'<th scope="col" aria-sort="(\w+)"><a [^>]*>([^<]*)</a>', content(page))
    direction = "descending" if sort.startswith("-") and len(sort) > 1 else "ascending"
    assert headings == [(direction, sorted_heading)]


def test_last_sign_in_is_shown_and_sorts_the_recent_first(
    admin_http: HttpClient, staff: dict[str, User], signed_in: Callable[[User], HttpClient]
) -> None:
    signed_in(staff["sms"])
    page = admin_http.get("/users/", {"sort": "-last_sign_in"})
    # Saara signed in last, Anna (this admin) before; the others never, at the end either way.
    assert listed_users(page)[:2] == ["Saara Sms", "Anna Admin"]
    assert re.search(r"Saara Sms .* \d{4}-\d\d-\d\d \d\d:\d\d$", row_of(page, "Saara Sms"))


def test_select_all_controls_are_on_the_page(
    admin_http: HttpClient, staff: dict[str, User]
) -> None:
    body = content(admin_http.get("/users/"))
    assert 'id="select-page" aria-label="Select all users on this page"' in body
    assert 'data-label="Select all 5 users that match"' in body
    assert '<option value="matching">All users that match the search and filters</option>' in body


def test_11x_client_says_unavailable_in_the_mfa_column_and_shows_no_mfa_badges(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, full_name="Lena Legacy")
    user_factory("agent", client=legacy_tenant, full_name="Leo Nowhere", email="", work_phone="")
    page = signed_in(admin).get("/users/")
    assert row_of(page, "Leo Nowhere").startswith("Leo Nowhere agent")
    assert " Agent Unavailable " in row_of(page, "Leo Nowhere")
    assert "MFA off" not in row_of(page, "Leo Nowhere")
    assert "No destination" not in row_of(page, "Leo Nowhere")
    assert "MFA cannot be used on release 11.8; it needs release 25.x or later." in page_text(page)
    assert listed_users(signed_in(admin).get("/users/", {"flag": "mfa_off"})) == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"flag": "locked"}, id="locked"),
        pytest.param({"flag": "mfa_off", "sort": "-mfa"}, id="MFA off by method"),
        pytest.param({"mfa": "app", "sort": "level"}, id="app by level"),
        pytest.param({"sort": "-last_sign_in", "status": "all"}, id="by last sign-in"),
        pytest.param({"q": "agent", "sort": "username", "partial": "1"}, id="search sorted"),
    ],
)
def test_queries_stay_the_same_with_filters_and_sorting(
    admin_http: HttpClient,
    user_factory: Callable[..., User],
    django_assert_max_num_queries: Any,
    params: dict[str, str],
) -> None:
    def count() -> int:
        with django_assert_max_num_queries(MAX_QUERIES) as captured:
            assert admin_http.get("/users/", params).status_code == 200
        return len(captured)

    for _ in range(3):  # a row of every kind, so that the page is not empty
        user = user_factory("agent")
        lock(user)
        enrol_app(user)
    few = count()
    for n in range(40):
        user = user_factory("agent", mfa="email" if n % 2 else "off")
        if n % 3 == 0:
            lock(user)
        if n % 4 == 0:
            enrol_app(user)
    assert count() == few


def test_the_user_page_shows_the_status_and_unlock_at_the_top(
    admin_http: HttpClient, staff: dict[str, User]
) -> None:
    user = staff["locked"]
    body = content(admin_http.get(f"/users/{user.pk}/"))
    status = body.index('class="user-status"')
    assert status < body.index('class="user-form"')  # above the whole form
    top = body[status : body.index('class="user-form"')]
    assert '<span class="badge badge-locked">Locked</span>' in top
    assert "Locked after too many wrong codes until" in top
    assert f'action="/users/{user.pk}/unlock/"' in top and ">Unlock</button>" in top
    assert "Locked after too many wrong codes" not in body[body.index('class="user-form"') :]
    admin_http.post(f"/users/{user.pk}/unlock/")
    after = content(admin_http.get(f"/users/{user.pk}/"))
    assert "badge-locked" not in after and ">Unlock</button>" not in after


def test_the_user_page_names_every_status(admin_http: HttpClient, staff: dict[str, User]) -> None:
    nowhere = page_text(admin_http.get(f"/users/{staff['nodest'].pk}/"))
    assert "MFA off Signs in with a password alone." in nowhere
    assert "No destination Neither an Email nor a Work phone" in nowhere
    fine = page_text(admin_http.get(f"/users/{staff['sms'].pk}/"))
    assert "Active; no status needs attention." in fine
    gone = page_text(admin_http.get(f"/users/{staff['gone'].pk}/"))
    assert "Inactive Cannot sign in: employment is Inactive." in gone
