"""What apps learn about a person: a stable opaque `sub`, claims by scope, and an
`email_verified` that is true only where the address was proven."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.provider import claims
from tests.conftest import signed_in_client
from tests.provider.conftest import App

PERSON_CLAIMS = {"name", "preferred_username", "updated_at", "email", "email_verified"}
DESKGATE_CLAIMS = {claims.CLIENT_CLAIM, claims.LEVEL_CLAIM}


def signed_in_claims(app: App, browser: Any, **params: Any) -> tuple[dict, dict]:
    """The ID token's claims (verified) and UserInfo's answer for one sign-in."""
    authorized = app.authorize(browser, **params)
    token = app.exchange(authorized)
    id_claims = app.verify(token["id_token"], nonce=authorized.nonce)
    userinfo = app.userinfo(token["access_token"])
    assert userinfo.status_code == 200
    return id_claims, userinfo.json()


def edit(user: User, **changes: Any) -> User:
    data = dataclasses.replace(actions.UserInput.of(user), **changes)
    return actions.update_user(user, data, by=OPERATOR).user


def test_sub_is_opaque_and_survives_a_rename(app: App, browser, agent: User) -> None:
    before, info = signed_in_claims(app, browser)
    assert before["sub"] == info["sub"] == str(agent.subject)
    assert uuid.UUID(before["sub"])  # opaque: neither the user name nor the row's id
    assert before["sub"] not in {agent.username, str(agent.pk)}
    assert before["preferred_username"] == "olli.agent"

    edit(agent, username="olli.team-lead")

    after, info = signed_in_claims(app, browser)
    assert after["sub"] == info["sub"] == before["sub"]
    assert after["preferred_username"] == info["preferred_username"] == "olli.team-lead"


def test_two_people_have_two_subjects(app: App, browser, user_factory, tenant_factory) -> None:
    mine, _ = signed_in_claims(app, browser)
    other = user_factory("agent", client=tenant_factory("Southwind"))
    theirs, _ = signed_in_claims(app, signed_in_client(other))
    assert mine["sub"] != theirs["sub"]
    assert theirs[claims.CLIENT_CLAIM]["name"] == "Southwind"


@pytest.mark.parametrize(
    ("scope", "released"),
    [
        ("openid", set()),
        ("openid profile", PERSON_CLAIMS - {"email", "email_verified"}),
        ("openid email", {"email", "email_verified"}),
        ("openid deskgate", DESKGATE_CLAIMS),
        ("openid profile email deskgate", PERSON_CLAIMS | DESKGATE_CLAIMS),
    ],
)
def test_scopes_choose_the_claims(app: App, browser, scope: str, released: set[str]) -> None:
    app.scope = scope
    id_claims, info = signed_in_claims(app, browser)
    about_the_person = PERSON_CLAIMS | DESKGATE_CLAIMS
    assert about_the_person & set(id_claims) == released
    assert about_the_person & set(info) == released
    assert "sub" in id_claims and "sub" in info


def test_the_client_and_level_claims(app: App, browser, agent: User) -> None:
    id_claims, info = signed_in_claims(app, browser)
    client = agent.client
    expected = {"id": client.pk, "slug": client.slug, "name": "Northwind"}
    assert id_claims[claims.CLIENT_CLAIM] == info[claims.CLIENT_CLAIM] == expected
    assert id_claims[claims.LEVEL_CLAIM] == info[claims.LEVEL_CLAIM] == "agent"
    assert id_claims["name"] == "Olli Agent"


def test_email_verified_is_false_until_a_code_reaches_the_address(app: App, user_factory) -> None:
    user = user_factory("agent", "off", email="sanna@northwind.example")
    id_claims, info = signed_in_claims(app, signed_in_client(user))  # a password proves no address
    assert id_claims["email"] == "sanna@northwind.example"
    assert id_claims["email_verified"] is False and info["email_verified"] is False

    user = edit(user, mfa_method="sms")
    id_claims, _ = signed_in_claims(app, signed_in_client(user))  # a code by SMS neither
    assert id_claims["amr"] == ["pwd", "sms", "mfa"]
    assert id_claims["email_verified"] is False

    user = edit(user, mfa_method="email")
    id_claims, info = signed_in_claims(app, signed_in_client(user))  # a code to the address
    assert id_claims["amr"] == ["pwd", "otp", "mfa"]
    assert id_claims["email_verified"] is True and info["email_verified"] is True

    edit(user, mfa_method="off", email="sanna.k@northwind.example")
    id_claims, info = signed_in_claims(app, signed_in_client(user))  # a new, unproven address
    assert id_claims["email"] == "sanna.k@northwind.example"
    assert id_claims["email_verified"] is False and info["email_verified"] is False
