"""The REST API at /api/v1/ (django-ninja): its document is generated from the code.

The OpenAPI 3.1 document is served at /api/v1/openapi.json without a token; every operation
needs one (`deskgate.api.auth`). `docs/api.md` is the page for a program's developer.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

from deskgate.api import audit, problems, users

api = NinjaAPI(
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
