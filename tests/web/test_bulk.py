"""Bulk MFA (R8): a selection or a whole level, per-user results, other clients untouched."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.models import AuditEvent, Client, User
from tests.pages import content, controls, page_text, snapshot


@pytest.fixture
def crew(user_factory: Callable[..., User], other_tenant: Client) -> dict[str, User]:
    return {
        "aino": user_factory("agent", "email", username="aino.agent", full_name="Aino Agent"),
        "kalle": user_factory(
            "agent", username="kalle.agent", full_name="Kalle Agent", work_phone="+358401110003"
        ),
        "nomail": user_factory(
            "agent", username="nomail.agent", full_name="Nomail Agent", email=""
        ),
        "olli": user_factory(
            "agent", username="olli.agent", full_name="Olli Landline", work_phone="+35891234567"
        ),
        "twin": user_factory(
            "agent", username="twin.agent", full_name="Twin Agent", work_phone="+358401110003"
        ),
        "inka": user_factory(
            "agent", username="inka.agent", full_name="Inka Inactive", active=False
        ),
        "tiina": user_factory("team_leader", username="tiina.lead", full_name="Tiina Lead"),
        "outsider": user_factory(
            "agent", client=other_tenant, username="otto.outsider", full_name="Otto Outsider"
        ),
    }


def results(response: Any) -> dict[str, tuple[str, str]]:
    """Per user on the result page: (Applied or Refused, why)."""
    rows = re.findall(
        r'<tr class="(?:applied|refused)">\s*<td><a href="/users/\d+/">(.*?)</a>.*?</td>\s*'
        r"<td>(.*?)</td>\s*<td>(.*?)</td>",
        content(response),
        re.S,
    )
    return {name: (result, " ".join(why.split())) for name, result, why in rows}


def mfa(user: User) -> str:
    user.refresh_from_db()
    return user.mfa_method


KEY = re.compile(r'<input type="hidden" name="key" value="([0-9a-f-]{36})">')


def preview(
    http: HttpClient, method: str, scope: str = "selected", users: Any = (), **more: Any
) -> Any:
    """The list's form sent: the confirmation page (or the way back to the list)."""
    data = {"method": method, "scope": scope, "users": list(users), **more}
    return http.post("/users/bulk/", data)


def confirm(http: HttpClient, shown: Any) -> Any:
    """The confirmation page's button: its hidden fields sent back, with its key."""
    hidden = dict.fromkeys(("method", "scope", "filter", "key"), "")
    users = re.findall(r'<input type="hidden" name="users" value="(\d+)">', content(shown))
    for name in hidden:
        found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', content(shown))
        hidden[name] = html.unescape(found.group(1)) if found else ""
    return http.post("/users/bulk/", {**hidden, "users": users})


def bulk(http: HttpClient, method: str, scope: str = "selected", users: Any = ()) -> Any:
    """Set MFA for many users as an admin does: the form, then Confirm."""
    shown = preview(http, method, scope, users)
    if shown.status_code != 200:
        return shown
    assert KEY.search(content(shown)), "no confirmation step"
    return confirm(http, shown)


def test_user_list_offers_selection_and_levels(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    shown = controls(admin_http.get("/users/"))
    assert shown.options["method"] == ["off", "email", "sms"]
    assert shown.options["scope"] == [
        "selected",
        "level:admin",
        "level:manager",
        "level:team_leader",
        "level:agent",
        "matching",
    ]
    assert "users" in shown.attrs  # a tick box per user
    assert "Set MFA for many users" in page_text(admin_http.get("/users/"))


def test_selection_shows_what_was_applied_and_refused(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    chosen = [crew["aino"].pk, crew["kalle"].pk, crew["nomail"].pk]
    response = bulk(admin_http, "email", users=chosen)
    assert response.status_code == 200
    assert results(response) == {
        "Aino Agent": ("Applied", "Already Email."),
        "Kalle Agent": ("Applied", "MFA set to Email."),
        "Nomail Agent": ("Refused", "Email MFA sends the code to the Email field: fill it in."),
    }
    assert "2 applied, 1 refused." in page_text(response)
    assert (mfa(crew["aino"]), mfa(crew["kalle"]), mfa(crew["nomail"])) == (
        "email",
        "email",
        "off",
    )
    assert mfa(crew["twin"]) == "off"  # not selected, not touched


def test_whole_level_sets_active_users_of_that_level_only(
    admin_http: HttpClient, crew: dict[str, User], admin_user: User
) -> None:
    response = bulk(admin_http, "sms", scope="level:agent")
    assert response.status_code == 200
    outcome = results(response)
    assert set(outcome) == {
        "Aino Agent",
        "Kalle Agent",
        "Nomail Agent",
        "Olli Landline",
        "Twin Agent",
    }
    assert outcome["Olli Landline"] == (
        "Refused",
        "+358 9 1234567 is not a mobile number, so it cannot receive an SMS code. "
        "Enter a mobile number or choose Email.",
    )
    # Kalle and Twin share a number: a code must reach one person, so neither gets SMS (R4).
    assert outcome["Kalle Agent"] == (
        "Refused",
        "A code must reach exactly one person, but +358 40 1110003 is also the Work phone of "
        "Twin Agent (twin.agent). Give this user a number of their own, or choose Email.",
    )
    assert outcome["Twin Agent"][0] == "Refused"
    assert "Kalle Agent (kalle.agent)" in outcome["Twin Agent"][1]
    assert outcome["Aino Agent"] == ("Applied", "MFA set to SMS.")
    assert outcome["Nomail Agent"] == ("Applied", "MFA set to SMS.")
    assert "2 applied, 3 refused." in page_text(response)
    assert (mfa(crew["kalle"]), mfa(crew["twin"]), mfa(crew["aino"])) == ("off", "off", "sms")
    assert mfa(crew["inka"]) == "off"  # inactive: not part of "all active users"
    assert mfa(crew["tiina"]) == "off"  # another level
    assert mfa(admin_user) == "off"
    assert mfa(crew["outsider"]) == "off"  # another client


def test_another_clients_ids_are_not_touched(admin_http: HttpClient, crew: dict[str, User]) -> None:
    outsider = crew["outsider"]
    before = User.objects.filter(pk=outsider.pk).values().get()
    response = bulk(admin_http, "email", users=[crew["kalle"].pk, outsider.pk])
    assert response.status_code == 200
    assert list(results(response)) == ["Kalle Agent"]
    text = page_text(response)
    assert "1 applied, 0 refused. 1 selected user could not be found." in text
    assert "Otto" not in text and "otto.outsider" not in text
    assert User.objects.filter(pk=outsider.pk).values().get() == before
    assert not AuditEvent.objects.filter(subject=outsider, action="user.mfa_changed").exists()


def test_only_another_clients_ids_change_nothing(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    outsider = crew["outsider"]
    before = snapshot()
    response = bulk(admin_http, "sms", users=[outsider.pk, 10**9])
    assert response.status_code == 200
    assert results(response) == {}
    assert "2 selected users could not be found." in page_text(response)
    after = snapshot()
    assert after["users"] == before["users"]
    assert after["audit"] == before["audit"] + 1  # the bulk run itself, with 0 and 0


def test_bulk_is_recorded_per_user_and_as_a_whole(
    admin_http: HttpClient, crew: dict[str, User], admin_user: User
) -> None:
    bulk(admin_http, "email", users=[crew["kalle"].pk, crew["nomail"].pk])
    whole = AuditEvent.objects.get(action="user.bulk_mfa")
    assert whole.actor == admin_user
    assert whole.summary == "Bulk MFA Email: 1 applied, 1 refused"
    changed = AuditEvent.objects.get(action="user.mfa_changed")
    assert changed.subject == crew["kalle"]
    assert changed.detail["destination"] == "k••••@example.com"


def test_11x_client_bulk_is_refused_with_the_reason(
    user_factory: Callable[..., User],
    legacy_tenant: Client,
    signed_in: Callable[[User], HttpClient],
) -> None:
    admin = user_factory("admin", client=legacy_tenant, username="lena.legacy")
    agents = [user_factory("agent", client=legacy_tenant) for _ in range(2)]
    http = signed_in(admin)
    page = http.get("/users/")
    assert "method" in controls(page).disabled
    assert "MFA is only available for clients on release 25.x or later" in page_text(page)
    response = bulk(http, "sms", scope="level:agent")
    reasons = {why for _, why in results(response).values()}
    assert reasons == {
        "MFA is only available for clients on release 25.x or later; Legacy is on release 11.8."
    }
    assert all(mfa(a) == "off" for a in agents)


@pytest.mark.parametrize("scope", ["level:admin", "level:agent"])
def test_manager_bulk_is_refused_whole(
    user_factory: Callable[..., User],
    admin_user: User,
    signed_in: Callable[[User], HttpClient],
    scope: str,
) -> None:
    """MFA settings are admins' alone (the permission table): no Set MFA on the list, and a
    forged form is answered 403 before any step-up or preview."""
    manager = user_factory("manager", username="mikko.manager", full_name="Mikko Manager")
    agent = user_factory("agent", "off", email="aino@northwind.example")
    http = signed_in(manager)
    assert 'id="id_method"' not in content(http.get("/users/"))
    before = snapshot()
    response = bulk(http, "email", scope=scope)
    assert response.status_code == 403
    assert "Only an admin can change MFA settings" in page_text(response)
    assert snapshot() == before
    assert mfa(admin_user) == "off" and mfa(agent) == "off"


def test_empty_selection_goes_back_with_a_message(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    before = snapshot()
    response = bulk(admin_http, "email", users=[])
    assert response.status_code == 302
    assert response["Location"] == "/users/"
    page = admin_http.get("/users/")
    assert "Tick at least one user in the list, or choose a whole level." in page_text(page)
    assert snapshot() == before


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"method": "email", "scope": "selected", "users": ["abc"]}, id="letters"),
        pytest.param({"method": "email", "scope": "selected", "users": ["\x00"]}, id="null"),
        pytest.param({"method": "email", "scope": "selected", "users": ["1.5"]}, id="decimal"),
        pytest.param({"method": "email", "scope": "selected", "users": ["1e3"]}, id="exponent"),
        pytest.param({"method": "email", "scope": "selected", "users": ["9" * 30]}, id="too large"),
        pytest.param(
            {"method": "email", "scope": "selected", "users": [str(2**63)]}, id="just too large"
        ),
        pytest.param({"method": "email", "scope": "selected", "users": ["-5", "0"]}, id="negative"),
        pytest.param({"method": "totp", "scope": "level:agent"}, id="unknown method"),
        pytest.param({"method": "email", "scope": "level:root"}, id="unknown level"),
        pytest.param({"method": "\x00", "scope": "\x00"}, id="null everywhere"),
        pytest.param({"scope": "level:agent"}, id="no method"),
        pytest.param({}, id="nothing"),
        pytest.param({"method": "sms", "scope": "x" * 10_000}, id="long"),
    ],
)
def test_garbage_bulk_changes_nothing_and_never_fails(
    admin_http: HttpClient, crew: dict[str, User], data: dict[str, Any]
) -> None:
    before = snapshot()
    response = admin_http.post("/users/bulk/", data)
    assert response.status_code in (200, 302)
    assert snapshot()["users"] == before["users"]


def test_bulk_answers_only_post(admin_http: HttpClient) -> None:
    assert admin_http.get("/users/bulk/").status_code == 405


# -- the confirmation step, the key, the kept choices (issue 15) ---------------------------


def test_the_form_first_shows_what_it_will_do_and_changes_nothing(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    before = snapshot()
    shown = preview(admin_http, "sms", scope="level:agent")
    assert shown.status_code == 200
    text = page_text(shown)
    assert "Set MFA to SMS for 5 agents?" in text
    assert "2 users will be set to SMS. 3 will be refused:" in text
    assert (
        "Olli Landline (olli.agent) +358 9 1234567 is not a mobile number, so it cannot "
        "receive an SMS code." in text
    )
    assert "Kalle Agent (kalle.agent) A code must reach exactly one person" in text
    assert "Set SMS for 2 users" in text and "Change the choice" in text
    assert snapshot() == before  # no write, no audit event, no notice


def test_the_preview_is_what_the_run_then_does(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    """The dry run and the run share their code: each user's outcome is the same."""
    from deskgate.accounts import actions
    from deskgate.accounts.audit import Actor
    from deskgate.accounts.models import Client as Tenant

    admin = User.objects.get(username="anna.admin")
    agents = list(User.objects.filter(level="agent", is_active=True, client=admin.client))
    tenant = Tenant.objects.get(pk=admin.client_id)
    dry = actions.bulk_change_mfa_method(tenant, agents, "sms", by=Actor(user=admin), dry_run=True)
    assert all(mfa(a) == "off" or a == crew["aino"] for a in agents)  # nothing written
    real = actions.bulk_change_mfa_method(tenant, agents, "sms", by=Actor(user=admin))
    assert [(o.user.pk, o.applied, o.reason, o.changed) for o in dry] == [
        (o.user.pk, o.applied, o.reason, o.changed) for o in real
    ]
    # And the page's preview names exactly the refusals the result page then shows.
    for user in agents:
        user.refresh_from_db()


def test_preview_page_and_result_page_agree(admin_http: HttpClient, crew: dict[str, User]) -> None:
    shown = preview(admin_http, "sms", scope="level:agent")
    refused_shown = re.findall(
        r'<tr class="refused"><td><a href="/users/\d+/">(.*?)</a>.*?</td><td>(.*?)</td>',
        content(shown),
    )
    done = confirm(admin_http, shown)
    refused_done = {n: why for n, (r, why) in results(done).items() if r == "Refused"}
    assert {n: " ".join(w.split()) for n, w in refused_shown} == refused_done
    assert "2 applied, 3 refused." in page_text(done)


def test_the_same_confirmation_runs_once(admin_http: HttpClient, crew: dict[str, User]) -> None:
    shown = preview(admin_http, "email", users=[crew["kalle"].pk])
    first = confirm(admin_http, shown)
    assert "1 applied, 0 refused." in page_text(first)
    audit_after_first = snapshot()["audit"]
    again = confirm(admin_http, shown)  # a double click, or the form sent again
    assert again.status_code == 302 and again["Location"] == "/users/"
    assert snapshot()["audit"] == audit_after_first
    assert AuditEvent.objects.filter(action="user.bulk_mfa").count() == 1
    assert (
        "This change was already made (Email: 1 applied, 0 refused); nothing was done twice."
        in (page_text(admin_http.get("/users/")))
    )
    # A new preview gives a new key: the admin can make the same change again on purpose.
    assert KEY.search(content(shown)).group(1) != KEY.search(  # type: ignore[union-attr]
        content(preview(admin_http, "email", users=[crew["kalle"].pk]))
    ).group(1)


def test_a_refused_form_keeps_the_choices(admin_http: HttpClient, crew: dict[str, User]) -> None:
    response = preview(
        admin_http,
        "sms",
        scope="bogus",
        users=[crew["kalle"].pk],
        filter="level=agent&status=all&flag=mfa_off",
    )
    assert response.status_code == 302
    page = admin_http.get(response["Location"])
    shown = controls(page)
    assert shown.values["method"] == "sms"
    assert f'name="users" value="{crew["kalle"].pk}" aria-label="Select Kalle Agent" checked' in (
        content(page)
    )
    assert '<option value="mfa_off" selected>MFA off</option>' in content(page)  # the list too
    assert "Choose an MFA method and who to set it for." in page_text(page)
    # Once: the next visit is the plain list.
    assert "checked" not in content(admin_http.get("/users/")).split('id="user-results"')[1]


def test_change_the_choice_goes_back_with_the_choices(
    admin_http: HttpClient, crew: dict[str, User]
) -> None:
    shown = preview(admin_http, "email", users=[crew["olli"].pk])
    back = admin_http.post(
        "/users/bulk/",
        {"method": "email", "scope": "selected", "users": [crew["olli"].pk], "back": "1"},
    )
    assert back.status_code == 302
    page = admin_http.get("/users/")
    assert controls(page).values["method"] == "email"
    assert f'value="{crew["olli"].pk}" aria-label="Select Olli Landline" checked' in content(page)
    assert mfa(crew["olli"]) == "off" and shown.status_code == 200


def test_all_users_that_match_the_list(admin_http: HttpClient, crew: dict[str, User]) -> None:
    # The list filtered to active agents of user name "*agent*" without MFA: not Aino (Email).
    shown = preview(admin_http, "email", scope="matching", filter="q=agent&level=agent&mfa=off")
    text = page_text(shown)
    assert "Set MFA to Email for 4 users that match the list?" in text
    done = confirm(admin_http, shown)
    assert set(results(done)) == {"Kalle Agent", "Nomail Agent", "Olli Landline", "Twin Agent"}
    assert mfa(crew["kalle"]) == "email" and mfa(crew["aino"]) == "email"
    assert mfa(crew["inka"]) == "off"  # inactive: the list's default shows the active
    assert mfa(crew["outsider"]) == "off"  # another client's never match
