"""RFC 7644 §3.12: every refusal is an Error body with its status and scimType; never a 500."""

from __future__ import annotations

import pytest

from deskgate.accounts.models import Client, User
from tests.scim.conftest import DESKGATE, Directory, new_user


def scim_error(response, status: int, scim_type: str | None) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return str(body["detail"])


def test_a_taken_user_name_is_409_uniqueness_case_insensitively(directory: Directory) -> None:
    directory.create("ada")
    detail = scim_error(directory.post("Users", new_user("ADA")), 409, "uniqueness")
    assert "already taken" in detail
    assert User.objects.filter(username__iexact="ada").count() == 1


def test_a_user_name_against_the_rules_is_invalid_value_naming_the_rule(
    directory: Directory,
) -> None:
    detail = scim_error(
        directory.post("Users", new_user("ada lovelace", emails=[])), 400, "invalidValue"
    )
    assert detail.startswith("userName: A user name can only contain letters")


def test_a_shared_email_with_email_mfa_is_refused_as_on_the_page(
    directory: Directory, user_factory
) -> None:
    user_factory("agent", "email", email="desk@example.com")
    body = new_user(
        "ada",
        emails=[{"value": "desk@example.com", "type": "work"}],
        **{DESKGATE: {"mfaMethod": "email"}},
    )
    detail = scim_error(directory.post("Users", body), 400, "invalidValue")
    assert "emails: A code must reach exactly one person" in detail
    assert not User.objects.filter(username="ada").exists()


def test_r1_mfa_on_an_11x_client_is_refused_with_its_reason(
    legacy_tenant: Client, directory_for
) -> None:
    legacy = directory_for(legacy_tenant)
    body = new_user("ada", **{DESKGATE: {"mfaMethod": "email"}})
    detail = scim_error(legacy.post("Users", body), 400, "invalidValue")
    assert "mfaMethod: MFA is only available for clients on release 25.x or later" in detail


@pytest.mark.parametrize(
    ("raw", "content_type", "scim_type"),
    [
        ("{not json", "application/scim+json", "invalidSyntax"),
        ("[1, 2]", "application/scim+json", "invalidSyntax"),
        ("\xff\xfe", "application/json", "invalidSyntax"),
        ('{"userName": "a"}', "text/plain", "invalidSyntax"),
        ('{"userName": 12, "name": {"formatted": "A"}}', "application/json", "invalidValue"),
        ('{"userName": "a", "emails": "x"}', "application/scim+json", "invalidValue"),
        ('{"userName": "a", "active": "maybe"}', "application/scim+json", "invalidValue"),
    ],
)
def test_malformed_bodies_are_400_never_500(
    directory: Directory, raw: str, content_type: str, scim_type: str
) -> None:
    response = directory.post("Users", None, raw=raw, content_type=content_type)
    scim_error(response, 400, scim_type)
    assert not User.objects.filter(client=directory.client).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": "x"},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "x"}]},
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "emails[", "value": "a"}],
        },
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": ["a"]}],
        },
        {"Operations": [{"op": "replace", "path": "nickName", "value": "Ada"}, 3]},
    ],
)
def test_broken_patches_are_400_and_change_nothing(directory: Directory, body: dict) -> None:
    created = directory.create("ada")
    response = directory.send("PATCH", f"Users/{created['id']}", body)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] in {"invalidSyntax", "invalidValue", "invalidPath"}
    assert User.objects.get(username="ada").full_name == "Ada Lovelace"


def test_a_patch_that_breaks_a_rule_changes_nothing(directory: Directory) -> None:
    created = directory.create("ada")
    response = directory.patch(
        f"Users/{created['id']}", [{"op": "replace", "path": f"{DESKGATE}:level", "value": "boss"}]
    )
    assert "level: Choose a level" in scim_error(response, 400, "invalidValue")


def test_an_unsupported_method_is_405(directory: Directory) -> None:
    scim_error(directory.send("DELETE", "Users"), 405, None)
