"""Bulk MFA (R8): a selection or a whole level, per-user results, other clients untouched."""

from __future__ import annotations

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


def bulk(http: HttpClient, method: str, scope: str = "selected", users: Any = ()) -> Any:
    return http.post("/users/bulk/", {"method": method, "scope": scope, "users": list(users)})


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


def test_manager_bulk_on_admins_is_refused_per_user(
    user_factory: Callable[..., User],
    admin_user: User,
    signed_in: Callable[[User], HttpClient],
) -> None:
    manager = user_factory("manager", username="mikko.manager", full_name="Mikko Manager")
    response = bulk(signed_in(manager), "email", scope="level:admin")
    assert results(response) == {
        "Anna Admin": ("Refused", "Only an admin can create or change an admin.")
    }
    assert mfa(admin_user) == "off"


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
