"""SCIM create under the client's "MFA method for users created later" (issue 14): a
directory that sends no mfaMethod gets the level's method; one it sends wins."""

from __future__ import annotations

from deskgate.accounts.models import Client, User
from tests.scim.conftest import DESKGATE, Directory, new_user


def test_a_directorys_new_user_gets_the_levels_method(directory: Directory, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "email"})
    created = directory.create("ada")
    assert created[DESKGATE] == {"level": "agent", "mfaMethod": "email"}
    sent = directory.create(
        "bob", schemas=[new_user()["schemas"][0], DESKGATE], **{DESKGATE: {"mfaMethod": "off"}}
    )
    assert sent[DESKGATE]["mfaMethod"] == "off"


def test_an_update_keeps_the_stored_method(directory: Directory, tenant: Client) -> None:
    created = directory.create("ada")
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "email"})
    response = directory.put(f"Users/{created['id']}", new_user("ada"))
    assert response.status_code == 200, response.content
    assert User.objects.get(username="ada").mfa_method == "off"


def test_a_user_who_cannot_take_it_is_refused(directory: Directory, tenant: Client) -> None:
    Client.objects.filter(pk=tenant.pk).update(new_user_mfa={"agent": "sms"})
    response = directory.post("Users", new_user("ada"))
    assert response.status_code == 400
    assert "The settings give new agents SMS MFA" in response.content.decode()
    assert not User.objects.filter(username="ada").exists()
