"""The REST API at /api/v1/ (django-ninja): its document is generated from the code.

The OpenAPI 3.1 document is served at /api/v1/openapi.json without a token; every operation
needs one (`deskgate.api.auth`). `docs/api.md` is the page for a program's developer.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from deskgate.api import audit, problems, users

PROBLEM_REF = "#/components/schemas/Problem"
HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": 'Bearer, or Bearer error="invalid_token" for a token that is not valid',
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until the token's next one-minute window",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


class DeskgateAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """django-ninja's document, with what its type hints cannot say: refusals are
        `application/problem+json` (RFC 9457), and the headers a 401 and a 429 carry."""
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for item in document.get("paths", {}).values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    body = content.get("application/json")
                    if body is not None and body.get("schema", {}).get("$ref") == PROBLEM_REF:
                        response["content"] = {"application/problem+json": body}
                    if status in HEADERS:
                        response["headers"] = HEADERS[status]
        return document


api = DeskgateAPI(
    title="Deskgate REST API",
    version="1",
    description=(
        "What a company's admins do on the Users pages, for programs: users, MFA, locks, "
        "remembered devices, sessions and the audit trail. Authenticate with an API token "
        "(Settings > API tokens, or `deskgate create-api-token`) as `Authorization: Bearer`. "
        "Refusals are RFC 9457 problem details naming the field and the rule."
    ),
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("", users.router)
api.add_router("", audit.router)


def urls() -> tuple[list[Any], str, str]:
    """The API's URL patterns for `path("api/v1/", ...)`, a 405 answered as a problem."""
    patterns, app_name, namespace = api.urls
    return problems.method_not_allowed_as_problem(patterns), app_name, namespace
