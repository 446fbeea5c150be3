"""RFC 7644 §3.3 (create) and §3.4.1 (get), with the mapping of RFC 7643 §4.1 to Deskgate."""

from __future__ import annotations

import pytest

from deskgate.accounts.models import AuditEvent, User
from tests.scim.conftest import DESKGATE, ENTERPRISE, Directory, new_user


def test_create_maps_every_attribute_and_answers_201_with_location_and_etag(
    directory: Directory,
) -> None:
    body = new_user(
        "grace.hopper",
        schemas=[
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE,
            DESKGATE,
        ],
        externalId="00u1abc",
        name={"formatted": "Grace Brewster Hopper", "givenName": "Grace"},
        phoneNumbers=[{"value": "040 123 4567", "type": "work"}],
        **{
            ENTERPRISE: {"employeeNumber": "701", "department": "Navy"},
            DESKGATE: {"level": "team_leader", "mfaMethod": "sms"},
        },
    )
    response = directory.post("Users", body)
    assert response.status_code == 201, response.content
    created = response.json()
    user = User.objects.get(username="grace.hopper")
    assert created["id"] == str(user.subject)
    assert response["Location"] == f"http://127.0.0.1:8000/scim/v2/Users/{user.subject}"
    assert response["ETag"] == created["meta"]["version"]
    assert created["meta"]["version"].startswith('W/"')
    assert created["meta"]["location"] == response["Location"]
    assert (user.full_name, user.email, user.work_phone) == (
        "Grace Brewster Hopper",
        "grace.hopper@example.com",
        "+358401234567",
    )
    assert (user.level, user.mfa_method, user.is_active) == ("team_leader", "sms", True)
    assert (user.external_id, user.employee_number, user.department) == ("00u1abc", "701", "Navy")
    assert not user.has_usable_password() and user.must_change_password
    assert created["phoneNumbers"] == [{"value": "+358401234567", "type": "work", "primary": True}]
    assert created[ENTERPRISE] == {"employeeNumber": "701", "department": "Navy"}
    event = AuditEvent.objects.get(action="user.created", subject=user)
    assert event.detail["via"] == "scim" and event.detail["token"] == "Entra ID"
    assert event.actor_label == "API token \u201cEntra ID\u201d"


def test_create_defaults_an_agent_with_mfa_off_and_joins_given_and_family_name(
    directory: Directory,
) -> None:
    created = directory.create("ada")
    assert created[DESKGATE] == {"level": "agent", "mfaMethod": "off"}
    assert created["displayName"] == "Ada Lovelace"
    assert created["name"] == {"formatted": "Ada Lovelace"}


def test_email_is_the_work_one_else_the_primary_else_the_only_one(directory: Directory) -> None:
    emails = [
        {"value": "home@example.com", "type": "home", "primary": True},
        {"value": "work@example.com", "type": "work"},
    ]
    assert directory.create("a1", emails=emails)["emails"][0]["value"] == "work@example.com"
    emails = [{"value": "p@example.com", "type": "other", "primary": True}]
    assert directory.create("a2", emails=emails)["emails"][0]["value"] == "p@example.com"
    assert directory.create("a3", emails=[{"value": "o@example.com"}])["emails"][0]["value"] == (
        "o@example.com"
    )


def test_get_answers_the_user_and_is_audited_without_contact_details(
    directory: Directory,
) -> None:
    created = directory.create("ada", phoneNumbers=[{"value": "+358401234567", "type": "work"}])
    response = directory.get(f"Users/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response["ETag"] == created["meta"]["version"]
    read = AuditEvent.objects.filter(action="api.read").latest("id")
    assert read.detail["via"] == "scim" and "Ada Lovelace" in read.summary
    assert "+358401234567" not in str(read.detail) + read.summary


@pytest.mark.parametrize("bad_id", ["0", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_missing_id_answers_404_as_a_scim_error(directory: Directory, bad_id: str) -> None:
    response = directory.get(f"Users/{bad_id}")
    assert response.status_code == 404
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": "No such user.",
    }


def test_attributes_and_excluded_attributes_select_what_is_returned(directory: Directory) -> None:
    created = directory.create("ada")
    only = directory.get(f"Users/{created['id']}", attributes="userName,emails").json()
    assert set(only) == {"schemas", "id", "userName", "emails"}
    without = directory.get(f"Users/{created['id']}", excludedAttributes="emails").json()
    assert "emails" not in without and without["userName"] == "ada"
    listed = directory.get("Users", attributes="userName").json()["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}
