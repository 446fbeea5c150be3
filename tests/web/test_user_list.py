"""Users > User list: search, filters, pagination, the as-you-type fragment, query counts."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import Client, Level, User
from tests.authenticator import enrol as enrol_app
from tests.pages import content, listed_users, page_text

# Session, user, count, page and the page's strong factors (5 today, one spare for a
# session touch): a fixed handful, whatever the number of users.
MAX_QUERIES = 6


@pytest.fixture
def people(user_factory: Callable[..., User], other_tenant: Client) -> dict[str, User]:
    return {
        "vaino": user_factory(
            "agent",
            username="vaino.v",
            full_name="Väinö Virtanen",
            email="vaino@northwind.example",
            work_phone="+358401234567",
        ),
        "ella": user_factory(
            "team_leader",
            username="ella.k",
            full_name="Ella Korhonen",
            email="ella.korhonen@northwind.example",
            work_phone="+358409876543",
        ),
        "iris": user_factory(
            "agent",
            username="iris.i",
            full_name="Iris Inactive",
            email="iris@northwind.example",
            work_phone="+358405550000",
            active=False,
        ),
        # Another client's user who would match most searches: never listed (R10).
        "outsider": user_factory(
            "agent",
            client=other_tenant,
            username="vaino.outsider",
            full_name="Väinö Virtanen-Outsider",
            email="vaino@contoso.example",
            work_phone="+358401234568",
        ),
    }


def search(http: HttpClient, **params: Any) -> Any:
    response = http.get("/users/", params)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        pytest.param("virta", ["Väinö Virtanen"], id="part of a surname"),
        pytest.param("VIRTANEN", ["Väinö Virtanen"], id="surname in capitals"),
        pytest.param("väinö", ["Väinö Virtanen"], id="first name with umlauts"),
        pytest.param("Ella Kor", ["Ella Korhonen"], id="first name and part of surname"),
        pytest.param("ella.k", ["Ella Korhonen"], id="user name"),
        pytest.param("vaino.", ["Väinö Virtanen"], id="part of a user name"),
        pytest.param("vaino@north", ["Väinö Virtanen"], id="part of an email"),
        pytest.param("ELLA.KORHONEN@NORTHWIND.EXAMPLE", ["Ella Korhonen"], id="email in capitals"),
        pytest.param("+358401234567", ["Väinö Virtanen"], id="phone E.164"),
        pytest.param("+358 40 123 4567", ["Väinö Virtanen"], id="phone international with spaces"),
        pytest.param("358 40 123 4567", ["Väinö Virtanen"], id="phone digits with spaces"),
        pytest.param("040 123 4567", ["Väinö Virtanen"], id="phone national with 0"),
        pytest.param("040-987 6543", ["Ella Korhonen"], id="phone national with a dash"),
        pytest.param("0409876543", ["Ella Korhonen"], id="phone national without spaces"),
        pytest.param("  virtanen   ", ["Väinö Virtanen"], id="surrounding spaces"),
        pytest.param("northwind.example", ["Ella Korhonen", "Väinö Virtanen"], id="domain"),
        pytest.param("nobody-like-this", [], id="no match"),
        pytest.param("%", [], id="a LIKE wildcard is literal"),
        pytest.param("_", [], id="an underscore wildcard is literal"),
    ],
)
def test_search_finds_by_name_username_email_and_phone(
    admin_http: HttpClient, people: dict[str, User], typed: str, expected: list[str]
) -> None:
    response = search(admin_http, q=typed)
    assert listed_users(response) == expected
    assert "Outsider" not in content(response)


def test_search_with_nothing_found_says_what_to_try(
    admin_http: HttpClient, people: dict[str, User]
) -> None:
    text = page_text(search(admin_http, q="zzzz"))
    assert "0 users matching “zzzz”" in text
    assert "No users match. Try part of a name, a user name, an email address" in text


def test_search_field_keeps_what_was_typed(admin_http: HttpClient, people: dict[str, User]) -> None:
    response = search(admin_http, q='virta"<b>')
    body = content(response)
    assert 'value="virta&quot;&lt;b&gt;"' in body
    assert 'virta"<b>' not in body  # escaped wherever it is shown


def test_list_shows_the_columns_of_the_article(
    admin_http: HttpClient, people: dict[str, User]
) -> None:
    response = search(admin_http, q="virtanen")
    text = page_text(response)
    for heading in ("Name", "User name", "Level", "MFA", "Email", "Work phone", "Employment"):
        assert heading in text
    assert "Väinö Virtanen vaino.v Agent Off vaino@northwind.example +358 40 1234567 Active" in (
        text
    )
    vaino = people["vaino"]
    assert f'<a href="/users/{vaino.pk}/">Väinö Virtanen</a>' in content(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, ["Anna Admin", "Ella Korhonen", "Väinö Virtanen"], id="default: active"),
        pytest.param({"level": "team_leader"}, ["Ella Korhonen"], id="team leaders"),
        pytest.param({"level": "admin"}, ["Anna Admin"], id="admins"),
        pytest.param({"level": "manager"}, [], id="no managers"),
        pytest.param({"level": "agent"}, ["Väinö Virtanen"], id="active agents"),
        pytest.param({"status": "inactive"}, ["Iris Inactive"], id="inactive"),
        pytest.param(
            {"status": "all"},
            ["Anna Admin", "Ella Korhonen", "Iris Inactive", "Väinö Virtanen"],
            id="active and inactive",
        ),
        pytest.param(
            {"status": "all", "level": "agent"},
            ["Iris Inactive", "Väinö Virtanen"],
            id="all agents",
        ),
        pytest.param({"status": "inactive", "q": "iris@"}, ["Iris Inactive"], id="search+status"),
        pytest.param({"status": "active", "q": "iris@"}, [], id="inactive hidden by default"),
        pytest.param(
            {"level": "wizard", "status": "bogus"},
            ["Anna Admin", "Ella Korhonen", "Iris Inactive", "Väinö Virtanen"],
            id="unknown filter values filter nothing",
        ),
    ],
)
def test_level_and_employment_filters(
    admin_http: HttpClient, people: dict[str, User], params: dict[str, str], expected: list[str]
) -> None:
    assert listed_users(search(admin_http, **params)) == expected


def test_filters_show_their_chosen_values(admin_http: HttpClient, people: dict[str, User]) -> None:
    body = content(search(admin_http, level="team_leader", status="inactive"))
    assert '<option value="team_leader" selected>Team leader</option>' in body
    assert '<option value="inactive" selected>Inactive</option>' in body


@pytest.fixture
def sixty_agents(user_factory: Callable[..., User]) -> list[User]:
    return [user_factory("agent", full_name=f"Agent {i:02d}") for i in range(60)]


def test_pagination_50_per_page(admin_http: HttpClient, sixty_agents: list[User]) -> None:
    first = search(admin_http)
    second = search(admin_http, page=2)
    names_1, names_2 = listed_users(first), listed_users(second)
    assert len(names_1) == 50
    assert len(names_2) == 11  # 60 agents and the admin
    assert names_1 == sorted(names_1)
    assert set(names_1).isdisjoint(names_2)
    assert sorted(names_1 + names_2) == sorted([u.full_name for u in sixty_agents] + ["Anna Admin"])
    assert "61 users" in page_text(first)
    assert "Page 1 of 2" in page_text(first)
    assert "Page 2 of 2" in page_text(second)
    assert "page=2" in content(first) and "Next" in page_text(first)
    assert "Previous" in page_text(second)


def test_pagination_keeps_search_and_filters(
    admin_http: HttpClient, sixty_agents: list[User]
) -> None:
    body = html.unescape(content(search(admin_http, q="agent", level="agent", status="active")))
    assert 'href="?q=agent&level=agent&status=active&page=2">Next</a>' in body


@pytest.mark.parametrize("page", ["999", "abc", "-1", "0", "99999999999999999999999", "1.5"])
def test_any_page_number_answers_a_page(
    admin_http: HttpClient, sixty_agents: list[User], page: str
) -> None:
    assert len(listed_users(search(admin_http, page=page))) in (50, 11)


def test_partial_returns_only_the_results_fragment(
    admin_http: HttpClient, people: dict[str, User]
) -> None:
    response = search(admin_http, q="virta", partial="1")
    body = content(response)
    assert listed_users(response) == ["Väinö Virtanen"]
    assert "<html" not in body
    assert "<form" not in body
    assert 'id="id_q"' not in body
    assert body.lstrip().startswith('<p class="count">')
    assert "1 user matching “virta”" in page_text(response)


def test_partial_follows_filters_and_pages(
    admin_http: HttpClient, sixty_agents: list[User]
) -> None:
    response = search(admin_http, partial="1", level="agent", page="2")
    assert len(listed_users(response)) == 10
    assert "Page 2 of 2" in page_text(response)


def test_full_page_has_search_label_and_create(admin_http: HttpClient) -> None:
    response = search(admin_http)
    body = content(response)
    assert '<label for="id_q">Search</label>' in body
    assert 'href="/users/create/"' in body and ">Create</a>" in body
    assert 'id="user-results"' in body


def _queries_for(http: HttpClient, assert_max: Any, **params: str) -> int:
    with assert_max(MAX_QUERIES) as captured:
        response = http.get("/users/", params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="first page"),
        pytest.param({"page": "2"}, id="second page"),
        pytest.param({"q": "agent"}, id="search"),
        pytest.param({"q": "agent", "partial": "1"}, id="search as you type"),
        pytest.param({"q": "040 000", "level": "agent", "status": "all"}, id="phone+filters"),
    ],
)
def test_queries_per_page_do_not_grow_with_users(
    admin_http: HttpClient,
    user_factory: Callable[..., User],
    django_assert_max_num_queries: Any,
    params: dict[str, str],
) -> None:
    for _ in range(5):
        user_factory("agent")
    few = _queries_for(admin_http, django_assert_max_num_queries, **params)
    for n in range(55):
        with_app = user_factory("agent", mfa="email")
        if n % 5 == 0:
            enrol_app(with_app)
    many = _queries_for(admin_http, django_assert_max_num_queries, **params)
    assert few == many


@pytest.fixture
def ten_thousand(tenant: Client, admin_user: User) -> int:
    """10,000 agents in one client, inserted in bulk (the actions would take minutes)."""
    users = []
    for i in range(10_000):
        user = User(
            client=tenant,
            username=f"bulk{i:05d}",
            full_name=f"Bulk Agent {i:05d}",
            level=Level.AGENT,
            email=f"bulk{i:05d}@scale.example",
            work_phone=f"+35850{i:07d}",
            password="!",  # an unusable password: these users never sign in
            must_change_password=False,
        )
        user.search_key = user.build_search_key()
        users.append(user)
    User.objects.bulk_create(users, batch_size=1000)
    return len(users)


SEARCHES_AMONG_10000 = [
    ({"q": "bulk04213"}, ["Bulk Agent 04213"]),  # user name
    ({"q": "Bulk Agent 0999"}, [f"Bulk Agent 0999{i}" for i in range(10)]),  # name
    ({"q": "bulk07777@scale"}, ["Bulk Agent 07777"]),  # email
    ({"q": "050 000 8421"}, ["Bulk Agent 08421"]),  # phone, national
    ({"q": "+358500001234", "partial": "1"}, ["Bulk Agent 01234"]),  # as you type
    ({"q": "nobody here"}, []),
]


def test_search_among_10000_users_has_bounded_queries(
    admin_http: HttpClient, ten_thousand: int, django_assert_max_num_queries: Any
) -> None:
    # One test for all searches: the 10,000 rows are built once.
    for params, expected in SEARCHES_AMONG_10000:
        with django_assert_max_num_queries(MAX_QUERIES):
            response = admin_http.get("/users/", params)
        assert response.status_code == 200
        assert listed_users(response) == expected, params


def test_list_of_10000_users_pages_with_bounded_queries(
    admin_http: HttpClient, ten_thousand: int, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(MAX_QUERIES):
        response = admin_http.get("/users/", {"page": "150", "level": "agent"})
    assert response.status_code == 200
    assert len(listed_users(response)) == 50
    assert "10000 users" in page_text(response)
    assert "Page 150 of 200" in page_text(response)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"q": "\x00"}, id="null byte"),
        pytest.param({"q": "virta\x00nen"}, id="null byte inside"),
        pytest.param({"q": "x" * 10_000}, id="very long"),
        pytest.param({"q": "😀 中文 \u202e"}, id="emoji, CJK, bidi override"),
        pytest.param({"q": "\\"}, id="backslash"),
        pytest.param({"q": "'; DROP TABLE accounts_user; --"}, id="quote"),
        pytest.param({"q": "0" * 500}, id="many digits"),
        pytest.param({"level": "\x00", "status": "\x00", "page": "\x00"}, id="null filters"),
        pytest.param({"partial": "\x00", "q": "\x00"}, id="null partial"),
    ],
)
def test_garbage_search_never_fails(
    admin_http: HttpClient, people: dict[str, User], params: dict[str, str]
) -> None:
    response = admin_http.get("/users/", params)
    assert response.status_code == 200
    assert "Outsider" not in content(response)


def test_null_byte_is_ignored_in_a_search(admin_http: HttpClient, people: dict[str, User]) -> None:
    assert listed_users(search(admin_http, q="virta\x00")) == ["Väinö Virtanen"]


def test_a_broad_search_counts_up_to_a_cap(admin_http, tenant, settings, monkeypatch) -> None:
    from deskgate.web.views import users as views

    monkeypatch.setattr(views, "SEARCH_COUNT_CAP", 3)
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR

    for i in range(5):
        actions.create_user(
            tenant, actions.UserInput(f"mira{i}", f"Mira Number{i}", "agent"), by=OPERATOR
        )
    page = admin_http.get("/users/?q=mira&partial=1").content.decode()
    assert "More than 3 users match “mira”: type more to narrow the search." in page
    assert page.count(">Mira Number") == 5  # the first page still lists them all
