"""RFC 7644 §4: ServiceProviderConfig, ResourceTypes and Schemas describe what is supported."""

from __future__ import annotations

from tests.scim.conftest import CORE, DESKGATE, ENTERPRISE, Directory


def test_service_provider_config_says_exactly_what_is_supported(directory: Directory) -> None:
    response = directory.get("ServiceProviderConfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert config["meta"]["location"] == "http://127.0.0.1:8000/scim/v2/ServiceProviderConfig"


def test_resource_types_name_the_user_and_its_two_extensions(directory: Directory) -> None:
    listed = directory.get("ResourceTypes").json()
    assert listed["totalResults"] == 1
    user = listed["Resources"][0]
    assert (user["id"], user["endpoint"], user["schema"]) == ("User", "/Users", CORE)
    assert [e["schema"] for e in user["schemaExtensions"]] == [ENTERPRISE, DESKGATE]
    assert directory.get("ResourceTypes/User").json()["id"] == "User"
    assert directory.get("ResourceTypes/Group").status_code == 404


def test_schemas_list_only_the_attributes_deskgate_keeps(directory: Directory) -> None:
    listed = directory.get("Schemas").json()
    by_id = {s["id"]: s for s in listed["Resources"]}
    assert set(by_id) == {CORE, ENTERPRISE, DESKGATE}
    core = {a["name"]: a for a in by_id[CORE]["attributes"]}
    assert set(core) == {"userName", "name", "displayName", "active", "emails", "phoneNumbers"}
    assert {s["name"] for s in core["name"]["subAttributes"]} == {
        "formatted",
        "givenName",
        "familyName",
    }
    assert {a["name"] for a in by_id[ENTERPRISE]["attributes"]} == {
        "employeeNumber",
        "department",
    }
    assert {a["name"] for a in by_id[DESKGATE]["attributes"]} == {"level", "mfaMethod"}
    one = directory.get(f"Schemas/{DESKGATE}")
    assert one.status_code == 200 and one.json()["id"] == DESKGATE
