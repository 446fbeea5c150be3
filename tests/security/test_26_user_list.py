"""26. The User list's new parameters and bulk MFA's confirmation step (issue 15).

Sort and filter parameters are read from a fixed set: anything else is the default, never
an error and never a way into another client's users (R10). "All users that match" applies
the list's own filter to the admin's own client only. The confirmation's key makes one run
however many copies of the form arrive at once; agents reach none of it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from deskgate.accounts.models import AuditEvent, Client, User
from tests.pages import snapshot
from tests.security.conftest import Browser, full_sign_in, parallel, visible_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(browser: Any, user_factory: Callable[..., User], tenant_factory: Any) -> dict[str, Any]:
    other = tenant_factory("Contoso")
    admin = user_factory("admin", username="north.admin", full_name="North Admin")
    own = [user_factory("agent", full_name=f"Own Agent {i}") for i in range(3)]
    foreign = user_factory(
        "agent", client=other, username="contoso.agent", full_name="Contoso Secretagent"
    )
    return {
        "a": full_sign_in(browser(), admin),
        "admin": admin,
        "own": own,
        "foreign": foreign,
        "other": other,
        "browser": browser,
    }


GARBAGE = [
    {"sort": "password"},
    {"sort": "-client__name"},
    {"sort": "client_id"},
    {"sort": "\x00"},
    {"sort": "--name"},
    {"sort": "name" * 1000},
    {"flag": "x" * 5000},
    {"flag": "locked'; --"},
    {"mfa": "\x00"},
    {"mfa": "sms", "sort": "last_sign_in", "flag": "sso", "level": "admin' OR 1=1"},
    {"status": "all", "sort": "-mfa", "page": "-1"},
]


@pytest.mark.parametrize("params", GARBAGE)
def test_unknown_sort_and_filter_values_give_the_default_never_an_error(
    world: dict[str, Any], params: dict[str, str]
) -> None:
    a: Browser = world["a"]
    response = a.get("/users/", params=params)
    assert response.status_code == 200
    text = visible_text(response)
    assert "Contoso" not in text
    if params.get("sort", "") not in ("last_sign_in", "-mfa"):
        # The default order: by name, the Name heading marked ascending (its link: descending).
        assert re.search(r'aria-sort="ascending"><a href="\?[^"]*sort=-name"', response.text)


def test_filters_and_order_never_show_another_client(world: dict[str, Any]) -> None:
    a: Browser = world["a"]
    for params in (
        {"status": "all", "sort": "-last_sign_in"},
        {"flag": "mfa_off", "sort": "level"},
        {"mfa": "off", "sort": "-username", "q": "agent"},
        {"flag": "locked"},  # the other client's agent has a guard row too
        {"partial": "1", "sort": "mfa", "q": "contoso"},
    ):
        response = a.get("/users/", params=params)
        assert response.status_code == 200
        assert "Contoso" not in visible_text(response), params
        assert "contoso.agent" not in response.text


def test_all_users_that_match_is_the_admins_own_client_only(world: dict[str, Any]) -> None:
    a: Browser = world["a"]
    foreign: User = world["foreign"]
    before = User.objects.filter(pk=foreign.pk).values().get()
    # A filter naming the other client's user, and one that matches everyone.
    for flt in ("q=contoso", "q=&status=all", f"client={world['other'].pk}&status=all"):
        shown = a.post(
            "/users/bulk/",
            [("method", "email"), ("scope", "matching"), ("filter", flt)],
            form="/users/",
        )
        assert shown.status_code == 200
        assert "Contoso" not in visible_text(shown)
        done = a.post(
            "/users/bulk/",
            [
                ("method", "email"),
                ("scope", "matching"),
                ("filter", flt),
                ("key", str(uuid.uuid4())),
            ],
            form="/users/",
        )
        assert done.status_code == 200
        assert "Contoso" not in visible_text(done)
    assert User.objects.filter(pk=foreign.pk).values().get() == before
    assert not AuditEvent.objects.filter(subject=foreign, actor=world["admin"]).exists()
    assert all(
        u.mfa_method == "email" for u in User.objects.filter(pk__in=[u.pk for u in world["own"]])
    )


def test_a_manager_cannot_reach_admins_through_all_that_match(
    world: dict[str, Any], user_factory: Callable[..., User]
) -> None:
    manager = user_factory("manager", full_name="Mikko Manager")
    m = full_sign_in(world["browser"](), manager)
    done = m.post(
        "/users/bulk/",
        [
            ("method", "email"),
            ("scope", "matching"),
            ("filter", "level=admin"),
            ("key", str(uuid.uuid4())),
        ],
        form="/users/",
    )
    # Managers change no MFA settings at all (the permission table): refused whole.
    assert done.status_code == 403
    assert "Only an admin can change MFA settings" in visible_text(done)
    assert User.objects.get(pk=world["admin"].pk).mfa_method == "off"


def test_agents_reach_neither_the_list_nor_the_confirmation(
    world: dict[str, Any], user_factory: Callable[..., User]
) -> None:
    agent = user_factory("agent", full_name="Plain Agent")
    b = full_sign_in(world["browser"](), agent)
    before = snapshot()
    assert b.get("/users/", params={"flag": "locked", "sort": "-name"}).status_code in (302, 403)
    response = b.post(
        "/users/bulk/",
        [("method", "email"), ("scope", "matching"), ("filter", ""), ("key", str(uuid.uuid4()))],
        form="/",
    )
    assert response.status_code in (302, 403)
    assert snapshot()["users"] == before["users"]


def test_many_copies_of_one_confirmation_run_once(world: dict[str, Any]) -> None:
    a: Browser = world["a"]
    key = str(uuid.uuid4())
    own: list[User] = world["own"]
    token = a.csrf_token("/users/")
    data = [("method", "email"), ("scope", "level:agent"), ("key", key)]
    copies = [a.clone() for _ in range(8)]

    answers = parallel(
        8,
        lambda i: (
            copies[i]
            .post_raw("/users/bulk/", [*data, ("csrfmiddlewaretoken", token)], headers=_referer(a))
            .status_code
        ),
    )

    assert sorted(answers) == [200] + [302] * 7, answers  # one result page, seven "already"
    runs = AuditEvent.objects.filter(action="user.bulk_mfa", client=world["admin"].client)
    assert runs.count() == 1
    changed = AuditEvent.objects.filter(action="user.mfa_changed", subject__in=own)
    assert changed.count() == len(own)  # each user changed once


def _referer(b: Browser) -> dict[str, str]:
    return {"Referer": b.base_url + "/users/"}


def test_the_key_must_be_a_key(world: dict[str, Any]) -> None:
    a: Browser = world["a"]
    before = snapshot()
    for key in ("1", "x" * 5000, "\x00", "00000000-0000-0000-0000-00000000000g"):
        response = a.post(
            "/users/bulk/",
            [("method", "email"), ("scope", "level:agent"), ("key", key)],
            form="/users/",
        )
        assert response.status_code == 302  # back to the list, with what was chosen
    assert snapshot()["users"] == before["users"]
    assert isinstance(world["other"], Client)
