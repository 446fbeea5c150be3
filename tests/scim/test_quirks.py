"""What real directories send, each from their published documentation.

Microsoft Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
Entra ID" (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-
and-groups), its request/response examples and "Known issues and resolutions".
Okta: "Build a SCIM provisioning integration" and "SCIM 2.0 protocol reference"
(developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20).
"""

from __future__ import annotations

from deskgate.accounts.models import User
from tests.scim.conftest import CORE, ENTERPRISE, Directory

ENTRA_CREATE = {
    # Entra's "Create User" request, as the tutorial shows it.
    "schemas": [CORE, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
    "meta": {"resourceType": "User"},
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    },
    "roles": [],
}


def test_entra_probes_with_a_filter_for_a_user_that_does_not_exist(directory: Directory) -> None:
    # Entra's first call: GET /Users?filter=userName eq "<random>" expecting an empty list.
    response = directory.get("Users", filter='userName eq "non-existent user"')
    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_entra_create_then_patch_order(directory: Directory) -> None:
    # Entra queries by userName, creates, then sends PATCHes with capitalised ops.
    assert (
        directory.get("Users", filter=f'userName eq "{ENTRA_CREATE["userName"]}"').json()[
            "totalResults"
        ]
        == 0
    )
    created = directory.post("Users", ENTRA_CREATE)
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    response = directory.patch(
        f"Users/{user_id}",
        [
            {"op": "Replace", "path": "displayName", "value": "Ryan Leenay"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Support"},
            {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "E-17"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ryan@contoso.com"},
        ],
    )
    assert response.status_code == 200, response.content
    user = User.objects.get(subject=user_id)
    assert (user.full_name, user.department, user.employee_number, user.email) == (
        "Ryan Leenay",
        "Support",
        "E-17",
        "ryan@contoso.com",
    )
    assert user.external_id == ENTRA_CREATE["externalId"]


def test_entra_adds_a_work_email_to_a_user_without_one(directory: Directory) -> None:
    created = directory.create("ada", emails=[])
    response = directory.patch(
        f"Users/{created['id']}",
        [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "ada@contoso.com"}],
    )
    assert response.status_code == 200, response.content
    assert User.objects.get(username="ada").email == "ada@contoso.com"


def test_entra_sends_active_as_the_string_false(directory: Directory) -> None:
    # "Known issues": Entra sends booleans as strings in PATCH ("False"/"True").
    created = directory.create("ada")
    response = directory.patch(
        f"Users/{created['id']}", [{"op": "Replace", "path": "active", "value": "False"}]
    )
    assert response.status_code == 200, response.content
    assert User.objects.get(username="ada").is_active is False
    directory.patch(f"Users/{created['id']}", [{"op": "Replace", "value": {"active": "True"}}])
    assert User.objects.get(username="ada").is_active is True


def test_entra_finds_a_user_by_the_work_email_value_path(directory: Directory) -> None:
    directory.create("ada")
    found = directory.get("Users", filter='emails[type eq "work"].value eq "ADA@example.com"')
    assert found.json()["totalResults"] == 1


def test_okta_updates_with_put_and_deactivates_with_active_false(directory: Directory) -> None:
    # Okta: "Update a specific User (PUT)"; deactivation is a PUT with "active": false.
    created = directory.create("ada", externalId="00u1okta")
    body = {
        "schemas": [CORE],
        "id": created["id"],
        "userName": "ada",
        "name": {"givenName": "Ada", "familyName": "King"},
        "emails": [{"primary": True, "value": "ada.king@example.com", "type": "work"}],
        "displayName": "Ada King",
        "locale": "en-US",
        "externalId": "00u1okta",
        "groups": [],
        "active": True,
    }
    response = directory.put(f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    user = User.objects.get(username="ada")
    assert (user.full_name, user.email) == ("Ada King", "ada.king@example.com")
    response = directory.put(f"Users/{created['id']}", {**body, "active": False})
    assert response.status_code == 200 and response.json()["active"] is False
    assert User.objects.get(username="ada").is_active is False
