"""Settings > API tokens: the list, Create (the token shown once), Revoke with a
confirmation; admins only, another client's token answers 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import OPERATOR, Actor, Via
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from tests.apitokens.conftest import SCIM, bearer
from tests.pages import content, controls, field_errors, form_errors_text, page_text

PAGE = "/settings/api-tokens/"
SHOWN_ONCE = "It is shown only now; Deskgate keeps only a hash."
TOKEN = re.compile(r"dgt_[A-Za-z0-9_-]{43}")


def create(http: HttpClient, **fields: str) -> Any:
    data = {"name": "Entra ID", "scope": "scim", "expires_days": "90", **fields}
    return http.post(PAGE, data)


def rows(response: Any) -> list[list[str]]:
    """The token table's rows as the visible text of their cells."""
    body = re.search(r'<table class="tokens">(.*?)</table>', content(response), re.S)
    assert body, page_text(response)
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if cells:
            found.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return found


def test_settings_links_to_the_page(admin_http: HttpClient) -> None:
    assert f'href="{PAGE}"' in content(admin_http.get("/settings/"))
    page = admin_http.get(PAGE)
    assert page.status_code == 200
    assert 'href="/settings/"' in content(page)


def test_an_empty_list_and_the_form_with_its_defaults(admin_http: HttpClient) -> None:
    page = admin_http.get(PAGE)
    assert rows(page) == [["No tokens yet."]]
    shown = controls(page)
    assert shown.values["name"] == ""
    assert shown.values["scope"] == "scim"
    assert shown.options["scope"] == ["scim", "read", "write"]
    assert shown.values["expires_days"] == "90"
    assert shown.options["expires_days"] == ["30", "90", "365", "never"]
    text = page_text(page)
    for label in ("SCIM provisioning", "REST API, read only", "REST API, read and write"):
        assert label in text
    assert "/scim/v2/" in text and "/api/v1/" in text
    assert '<label for="id_name">Name</label>' in content(page)


def test_create_shows_the_token_once(admin_http: HttpClient, tenant: Client) -> None:
    response = create(admin_http, name="Entra ID provisioning", expires_days="365")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [secret] = set(TOKEN.findall(content(response)))
    assert SHOWN_ONCE in page_text(response)
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.client) == ("Entra ID provisioning", "scim", tenant)
    assert token.expires_at == token.created_at + timedelta(days=365)
    assert tokens.digest_of(secret) == token.digest
    # The form is empty again, the list has the token, and it works.
    assert controls(response).values["name"] == ""
    assert tokens.authenticate(bearer(secret), door=Via.SCIM, needs=SCIM).token == token
    # Never again: a reload (a GET) shows the hint only, and nothing went into the session.
    again = admin_http.get(PAGE)
    assert TOKEN.search(content(again)) is None
    assert SHOWN_ONCE not in page_text(again)
    assert token.hint + "\u2026" in page_text(again)
    assert secret not in str(dict(admin_http.session))
    assert "Location" not in response


def test_the_list_shows_what_an_admin_needs(
    signed_in: Callable[[User], HttpClient],
    tenant: Client,
    admin_user: User,
    clock: Callable[..., object],
) -> None:
    clock(timedelta())
    used = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=30, by=OPERATOR)
    tokens.authenticate(bearer(used.secret, ip="203.0.113.5"), door=Via.SCIM, needs=SCIM)
    tokens.issue(tenant, name="Reports", scope="read", expires_days=None, by=Actor(user=admin_user))
    gone = tokens.issue(tenant, name="Old", scope="write", expires_days=1, by=OPERATOR)
    tokens.revoke(gone.token, by=Actor(user=admin_user))
    short = tokens.issue(tenant, name="Short", scope="write", expires_days=1, by=OPERATOR)
    clock(timedelta(days=2))
    page = signed_in(admin_user).get(PAGE)  # signed in after the clock moved (idle timeout)
    table = {row[0]: row for row in rows(page)}
    assert list(table) == ["Short", "Old", "Reports", "Entra ID"]  # newest first
    name, scope, hint, created, expires, status, last_used, action = table["Entra ID"]
    assert (scope, hint, status) == ("SCIM provisioning", used.token.hint + "\u2026", "Active")
    assert created.startswith("by operator (command line), ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", expires)
    assert last_used.endswith(" from 203.0.113.5")
    assert action == "Revoke"
    assert table["Reports"][1:2] == ["REST API, read only"]
    assert table["Reports"][3].startswith("by Anna Admin (anna.admin), ")
    assert table["Reports"][4] == "Never"
    assert table["Reports"][6] == "Never used"
    assert table["Old"][5].startswith("Revoked ") and table["Old"][5].endswith(
        "by Anna Admin (anna.admin)"
    )
    assert table["Old"][7] == ""  # nothing left to revoke
    assert table["Short"][5] == "Expired"
    assert table["Short"][7] == "Revoke"  # an expired token still holds its name
    assert short.secret not in content(page) and used.secret not in content(page)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"name": ""}, "name", "Give the token a name, such as Entra ID provisioning."),
        ({"name": "x" * 101}, "name", "Name can have at most 100 characters (it has 101)."),
        ({"scope": "admin"}, "scope", "Choose a scope: scim, read, write."),
        ({"expires_days": "0"}, "expires_days", "Expiry is 1 to 3650 days, or none."),
        ({"expires_days": "soon"}, "expires_days", "Expiry is 1 to 3650 days, or none."),
        ({"expires_days": "99999999999999999999"}, "expires_days", "Expiry is 1 to 3650 days"),
    ],
)
def test_refusals_keep_what_was_typed(
    admin_http: HttpClient, fields: dict[str, str], field: str, says: str
) -> None:
    response = create(admin_http, **{"name": "Okta users", **fields})
    assert response.status_code == 200
    assert any(says in e for e in field_errors(response, field)), field_errors(response, field)
    assert "Nothing was saved." in form_errors_text(response)
    assert TOKEN.search(content(response)) is None
    assert controls(response).values["name"] == fields.get("name", "Okta users")
    assert not ApiToken.objects.exists()


def test_a_taken_name_is_refused_by_the_field(admin_http: HttpClient) -> None:
    create(admin_http, name="Entra ID")
    response = create(admin_http, name="Entra ID", scope="read", expires_days="never")
    assert field_errors(response, "name") == [
        "Northwind already has a token named Entra ID; choose another."
    ]
    shown = controls(response).values
    assert (shown["name"], shown["scope"], shown["expires_days"]) == ("Entra ID", "read", "never")
    assert TOKEN.search(content(response)) is None
    assert ApiToken.objects.count() == 1


def test_never_expires(admin_http: HttpClient) -> None:
    create(admin_http, expires_days="never", scope="write")
    token = ApiToken.objects.get()
    assert (token.expires_at, token.scope) == (None, "write")


def test_revoke_asks_first_then_revokes(admin_http: HttpClient, tenant: Client) -> None:
    issued = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=None, by=OPERATOR)
    page = admin_http.get(PAGE)
    url = f"/settings/api-tokens/{issued.token.pk}/revoke/"
    assert f'href="{url}" aria-label="Revoke Entra ID"' in content(page)
    confirm = admin_http.get(url)
    assert confirm.status_code == 200
    assert "Revoke API token Entra ID?" in page_text(confirm)
    assert "refused from the moment you revoke it" in page_text(confirm)
    assert ApiToken.objects.get().revoked_at is None  # asking changes nothing
    done = admin_http.post(url)
    assert done.status_code == 302 and done["Location"] == PAGE
    listed = admin_http.get(PAGE)
    assert "API token Entra ID is revoked" in page_text(listed)
    assert rows(listed)[0][5].startswith("Revoked")
    with pytest.raises(tokens.Refused):
        tokens.authenticate(bearer(issued.secret), door=Via.SCIM, needs=SCIM)
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.actor_label == "Anna Admin (anna.admin)"
    assert event.detail["via"] == "web"
    # Again: nothing more happens, and the page says so.
    admin_http.post(url)
    assert "was already revoked" in page_text(admin_http.get(PAGE))
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_another_clients_token_answers_404(admin_http: HttpClient, other_tenant: Client) -> None:
    theirs = tokens.issue(other_tenant, name="Theirs", scope="scim", expires_days=None, by=OPERATOR)
    for method in ("get", "post"):
        response = getattr(admin_http, method)(f"/settings/api-tokens/{theirs.token.pk}/revoke/")
        assert response.status_code == 404
    missing = admin_http.post("/settings/api-tokens/999999/revoke/")
    assert missing.status_code == 404
    assert ApiToken.objects.get().revoked_at is None
    assert "Theirs" not in page_text(admin_http.get(PAGE))


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_others_than_admins_get_the_403_page_with_the_reason(
    user_factory: Callable[..., User],
    signed_in: Callable[[User], HttpClient],
    tenant: Client,
    level: str,
) -> None:
    issued = tokens.issue(tenant, name="Entra ID", scope="scim", expires_days=None, by=OPERATOR)
    http = signed_in(user_factory(level))
    revoke = f"/settings/api-tokens/{issued.token.pk}/revoke/"
    reason = "Only an admin can change the company's settings."
    for response in (
        http.get(PAGE),
        create(http, name="Sneaky"),
        http.get(revoke),
        http.post(revoke),
    ):
        assert response.status_code == 403
        assert reason in page_text(response)
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == [("Entra ID", None)]


def test_signed_out_visitors_are_sent_to_sign_in(tenant: Client) -> None:
    for response in (HttpClient().get(PAGE), HttpClient().post(PAGE, {"name": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/signin/?next=")
    assert not ApiToken.objects.exists()


def test_the_list_costs_a_fixed_number_of_queries(
    admin_http: HttpClient, tenant: Client, django_assert_max_num_queries: Callable[..., object]
) -> None:
    admin_http.get(PAGE)  # warm the session
    for n in range(3):
        tokens.issue(tenant, name=f"T{n}", scope="read", expires_days=30, by=OPERATOR)
    with django_assert_max_num_queries(12) as few:  # type: ignore[attr-defined]
        admin_http.get(PAGE)
    for n in range(3, 30):
        tokens.issue(tenant, name=f"T{n}", scope="read", expires_days=30, by=OPERATOR)
    with django_assert_max_num_queries(len(few.captured_queries)):  # type: ignore[attr-defined]
        admin_http.get(PAGE)
