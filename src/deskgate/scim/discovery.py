"""ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 §4): what Deskgate supports.

Built from scim2-models' own models and schema generation, then cut down to the attributes
Deskgate keeps (`schemas.SUPPORTED`), so a directory's attribute mapping sees only those.
"""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Meta,
    Patch,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models.reference import External, Reference

from deskgate.scim.schemas import (
    CORE,
    DESKGATE,
    ENTERPRISE,
    SUPPORTED,
    SUPPORTED_NAME_PARTS,
    DeskgateUser,
)

MAX_RESULTS = 200  # the most users one list answers, whatever `count` asks
DOCS = "https://github.com/deskgate/deskgate/blob/main/docs/scim.md"


def service_provider_config(base: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=Reference[External](DOCS),
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description=(
                    "An API token of scope SCIM, created under Settings > API tokens or "
                    "with deskgate create-api-token, sent as Authorization: Bearer <token>."
                ),
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}ServiceProviderConfig"),
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def resource_types(base: str) -> list[dict[str, Any]]:
    user = ResourceType.model_validate(
        {
            "schemas": [str(ResourceType.__schema__)],
            "id": "User",
            "name": "User",
            "description": "A person who signs in to Deskgate",
            "endpoint": "/Users",
            "schema": CORE,
            "schemaExtensions": [
                {"schema": ENTERPRISE, "required": False},
                {"schema": DESKGATE, "required": False},
            ],
            "meta": {"resourceType": "ResourceType", "location": f"{base}ResourceTypes/User"},
        }
    )
    return [user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)]


def _cut(schema: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    attributes = [a for a in schema.get("attributes", []) if a["name"] in keep]
    for attribute in attributes:
        if attribute["name"] == "name":
            attribute["subAttributes"] = [
                s for s in attribute.get("subAttributes", []) if s["name"] in SUPPORTED_NAME_PARTS
            ]
        if attribute["name"] in ("emails", "phoneNumbers"):
            attribute["subAttributes"] = [
                s
                for s in attribute.get("subAttributes", [])
                if s["name"] in ("value", "type", "primary")
            ]
    return {**schema, "attributes": attributes}


def _schema_of(model: Any, urn: str, name: str, description: str, base: str) -> dict[str, Any]:
    schema = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    schema = _cut(schema, SUPPORTED[urn])
    return {
        **schema,
        "id": urn,
        "name": name,
        "description": description,
        "meta": {"resourceType": "Schema", "location": f"{base}Schemas/{urn}"},
    }


def schemas(base: str) -> list[dict[str, Any]]:
    return [
        _schema_of(User, CORE, "User", "User Account", base),
        _schema_of(EnterpriseUser, ENTERPRISE, "EnterpriseUser", "Enterprise User", base),
        _schema_of(DeskgateUser, DESKGATE, "DeskgateUser", "Deskgate level and MFA method", base),
    ]
