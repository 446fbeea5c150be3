"""Tenant isolation (R10) and who opens the admin pages at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, MessageTemplate, User
from tests.pages import content, page_text, snapshot, without_csrf


@dataclass
class World:
    mine: dict[str, Any]
    theirs: dict[str, Any]
    missing_user: int
    missing_template: int


@pytest.fixture
def world(
    tenant: Client,
    other_tenant: Client,
    admin_user: User,
    user_factory: Callable[..., User],
    template_factory: Callable[..., MessageTemplate],
) -> World:
    mine = {
        "agent": user_factory("agent", username="aino.agent", full_name="Aino Agent"),
        "template": template_factory(tenant, "Northwind callback"),
    }
    theirs = {
        "admin": user_factory(
            "admin", client=other_tenant, username="otto.admin", full_name="Otto Outsider"
        ),
        "agent": user_factory(
            "agent", "sms", client=other_tenant, username="olga.agent", full_name="Olga Outsider"
        ),
        "template": template_factory(other_tenant, "Contoso callback", body="Contoso {agent.name}"),
    }
    return World(
        mine=mine,
        theirs=theirs,
        missing_user=User.objects.order_by("-pk").first().pk + 1000,  # type: ignore[union-attr]
        missing_template=MessageTemplate.objects.order_by("-pk").first().pk + 1000,  # type: ignore[union-attr]
    )


def user_post(username: str) -> dict[str, str]:
    return {
        "username": username,
        "full_name": "Taken Over",
        "level": "agent",
        "employment": "inactive",
        "email": "attacker@example.com",
        "work_phone": "",
        "mfa_method": "off",
        "password": "sunflower meadow lantern quietly",
    }


TEMPLATE_POST = {"name": "Hijacked", "channel": "sms", "sender": "Evil", "body": "Hi"}

# (method, how to build the URL from an id, body): every admin URL that takes an id.
ID_URLS = [
    pytest.param("get", "user", lambda w, i: f"/users/{i}/", None, id="GET user form"),
    pytest.param(
        "post", "user", lambda w, i: f"/users/{i}/", user_post("olga.agent"), id="POST user form"
    ),
    pytest.param("get", "template", lambda w, i: f"/templates/{i}/", None, id="GET template"),
    pytest.param(
        "post", "template", lambda w, i: f"/templates/{i}/", TEMPLATE_POST, id="POST template"
    ),
    pytest.param("get", "user", lambda w, i: f"/audit/?user={i}", None, id="audit of a user"),
    pytest.param(
        "get",
        "user",
        lambda w, i: f"/templates/{w.mine['template'].pk}/?agent={i}",
        None,
        id="preview as an agent",
    ),
]


@pytest.mark.parametrize(("method", "kind", "url", "body"), ID_URLS)
def test_another_clients_id_answers_exactly_like_a_missing_one(
    admin_http: HttpClient,
    world: World,
    method: str,
    kind: str,
    url: Callable[[World, int], str],
    body: dict[str, str] | None,
) -> None:
    theirs = world.theirs["agent" if kind == "user" else "template"].pk
    missing = world.missing_user if kind == "user" else world.missing_template
    before = snapshot()
    call = getattr(admin_http, method)
    other = call(url(world, theirs), body) if body else call(url(world, theirs))
    absent = call(url(world, missing), body) if body else call(url(world, missing))
    assert other.status_code == 404
    assert absent.status_code == 404
    assert without_csrf(other) == without_csrf(absent)
    assert other.headers.keys() == absent.headers.keys()
    text = page_text(other)
    assert "Olga" not in text and "Contoso" not in text
    assert snapshot() == before


def test_own_ids_open_for_comparison(admin_http: HttpClient, world: World) -> None:
    agent, template = world.mine["agent"].pk, world.mine["template"].pk
    for url in (
        f"/users/{agent}/",
        f"/templates/{template}/",
        f"/audit/?user={agent}",
        f"/templates/{template}/?agent={agent}",
    ):
        assert admin_http.get(url).status_code == 200, url


def test_lists_show_only_the_admins_client(admin_http: HttpClient, world: World) -> None:
    for url in ("/users/?status=all", "/templates/", "/audit/"):
        text = page_text(admin_http.get(url))
        assert "Outsider" not in text and "Contoso" not in text, url
        assert "olga.agent" not in text and "otto.admin" not in text, url


def test_a_forged_edit_of_another_clients_user_changes_nothing(
    admin_http: HttpClient, world: World
) -> None:
    olga = world.theirs["agent"]
    before = User.objects.filter(pk=olga.pk).values().get()
    admin_http.post(f"/users/{olga.pk}/", user_post("olga.agent"))
    admin_http.post("/users/bulk/", {"method": "off", "scope": "selected", "users": [olga.pk]})
    assert User.objects.filter(pk=olga.pk).values().get() == before


def test_creating_a_user_always_lands_in_the_admins_own_client(
    admin_http: HttpClient, world: World, tenant: Client, other_tenant: Client
) -> None:
    data = user_post("new.person")
    data["client"] = str(other_tenant.pk)  # a field the form does not have
    data["client_id"] = str(other_tenant.pk)
    assert admin_http.post("/users/create/", data).status_code == 302
    assert User.objects.get(username="new.person").client == tenant


ADMIN_PAGES = [
    ("get", "/users/"),
    ("get", "/users/?partial=1"),
    ("get", "/users/create/"),
    ("post", "/users/create/"),
    ("get", "/users/{agent}/"),
    ("post", "/users/{agent}/"),
    ("post", "/users/bulk/"),
    ("get", "/templates/"),
    ("get", "/templates/create/"),
    ("post", "/templates/create/"),
    ("get", "/templates/{template}/"),
    ("post", "/templates/{template}/"),
    ("get", "/audit/"),
    ("get", "/audit/?user={agent}"),
    ("get", "/settings/"),
    ("post", "/settings/"),
]


def _url(world: World, template: str) -> str:
    return template.format(agent=world.mine["agent"].pk, template=world.mine["template"].pk)


@pytest.mark.parametrize("level", ["agent", "team_leader"])
@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES)
def test_agents_and_team_leaders_get_403(
    world: World,
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    level: str,
    method: str,
    path: str,
) -> None:
    person = user_factory(level, username=f"the.{level}")
    http = signed_in(person)
    before = snapshot()
    body = {"method": "off", "scope": "level:agent"} if "bulk" in path else user_post("x.y")
    response = getattr(http, method)(_url(world, path), body if method == "post" else None)
    assert response.status_code == 403
    reason = (
        "Only an admin can change the company's settings."
        if path == "/settings/"
        else "Only admins and managers open the admin pages."
    )
    assert reason in page_text(response)
    assert snapshot() == before


def test_agent_keeps_their_own_account_page(
    user_factory: Callable[..., User], signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(user_factory("agent", username="aino.agent", full_name="Aino Agent"))
    home = http.get("/")
    assert home.status_code == 302 and home["Location"] == "/account/"
    account = http.get("/account/")
    assert account.status_code == 200
    assert 'href="/users/"' not in content(account)  # no way into the admin pages


@pytest.mark.parametrize("method", ["get", "post"])
def test_managers_open_admin_pages_but_not_the_clients_settings(
    world: World,
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    method: str,
) -> None:
    http = signed_in(user_factory("manager", username="mikko.manager"))
    for _, path in ADMIN_PAGES:
        if path.startswith("/settings/") or "bulk" in path or "create" in path:
            continue
        assert http.get(_url(world, path)).status_code == 200, path
    response = getattr(http, method)("/settings/", {"password_reset_enabled": "on"})
    assert response.status_code == 403
    assert "Only an admin can change the company's settings." in page_text(response)
    assert not Client.objects.get(pk=world.mine["agent"].client_id).password_reset_enabled


@pytest.mark.parametrize(("method", "path"), [*ADMIN_PAGES, ("get", "/"), ("get", "/account/")])
def test_visitors_who_have_not_signed_in_are_sent_to_sign_in(
    world: World, method: str, path: str
) -> None:
    url = _url(world, path)
    before = snapshot()
    response = getattr(HttpClient(), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")
    assert snapshot() == before


def test_a_deactivated_admin_loses_access_at_once(
    admin_http: HttpClient, admin_user: User, world: World, user_factory: Callable[..., User]
) -> None:
    user_factory("admin", full_name="Other Admin")  # the client keeps an admin
    assert admin_http.get("/users/").status_code == 200
    actions.set_user_active(admin_user, False, by=OPERATOR)
    response = admin_http.get("/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_an_admin_moved_to_agent_loses_the_admin_pages(
    admin_http: HttpClient, admin_user: User, world: World, user_factory: Callable[..., User]
) -> None:
    user_factory("admin", full_name="Other Admin")  # the client keeps an admin
    data = actions.UserInput.of(admin_user)
    data.level = "agent"
    actions.update_user(admin_user, data, by=OPERATOR)
    assert admin_http.get("/users/").status_code == 403
