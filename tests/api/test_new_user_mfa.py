"""The REST API's create under the client's "MFA method for users created later" (issue 14):
no `mfa_method` in the body gives the level's method; a chosen one wins; a user who cannot
take the level's method is refused with the rules' words."""

from __future__ import annotations

from deskgate.accounts.models import Client, User
from tests.api.conftest import Program

NEW = {"username": "new.agent", "full_name": "New Agent", "email": "new@example.com"}


def test_no_method_in_the_body_gives_the_levels_method(program: Program, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "sms"})
    response = program.post("/users", NEW | {"work_phone": "+358 40 765 4321"})
    assert response.status_code == 201, response.content
    assert response.json()["user"]["mfa_method"] == "sms"
    chosen = program.post(
        "/users", NEW | {"username": "b", "email": "b@x.example", "mfa_method": "off"}
    )
    assert chosen.json()["user"]["mfa_method"] == "off"


def test_without_a_policy_it_is_off(program: Program) -> None:
    assert program.post("/users", NEW).json()["user"]["mfa_method"] == "off"


def test_a_user_who_cannot_take_it_is_refused_in_words(program: Program, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "sms"})
    response = program.post("/users", NEW)
    assert response.status_code == 400
    body = response.json()
    fields = {e["field"] for e in body["errors"]}
    assert {"mfa_method", "work_phone"} <= fields
    assert "The settings give new agents SMS MFA" in body["detail"]
    assert not User.objects.filter(username="new.agent").exists()
