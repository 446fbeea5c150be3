"""Every refusal of the REST API as an RFC 9457 problem details body.

`application/problem+json` with `type`, `title`, `status`, `detail`, and for a refused
write the `errors` list naming each field and the rule's own words (the same words the pages
show: the actions raise them). Installed on the `NinjaAPI` by `install`, for Deskgate's own
refusals and for django-ninja's (a body that is not JSON, a wrong type, an unknown route).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja import errors as ninja_errors

from deskgate.apitokens import tokens

PROBLEM_TYPE = "https://deskgate.example/problems/"  # + a slug; stable, documented in docs/api.md

TITLES = {
    400: "The request was refused",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "The request is not well formed",
    429: "Too many requests",
}

# Field names of the actions' refusals, as the API names them.
API_FIELD = {"employment": "active", "__all__": None, "expires_days": "expires_days"}


def problem(
    status: int,
    detail: str,
    *,
    slug: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + slug,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = JsonResponse(body, status=status, content_type="application/problem+json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """The refusal by field: `[{"field": "email", "message": "..."}]` (field null: the whole)."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": API_FIELD.get(name, name), "message": message}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


def _refused(request: HttpRequest, exc: tokens.Refused) -> HttpResponse:
    headers = exc.headers()
    return problem(exc.status, exc.reason, slug=exc.error.replace("_", "-"), headers=headers)


def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = field_errors(exc)
    detail = " ".join(e["message"] for e in errors)
    return problem(400, detail, slug="rule", errors=errors)


def _permission(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "Not allowed.", slug="forbidden")


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(404, str(exc) or "No such resource.", slug="not-found")


def _malformed(request: HttpRequest, exc: ninja_errors.ValidationError) -> HttpResponse:
    errors: list[dict[str, Any]] = []
    said: list[str] = []
    for error in exc.errors:
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "payload", "query")
        )
        message = str(error.get("msg", ""))
        errors.append({"field": where or None, "message": message})
        said.append(f"{where}: {message}" if where else message)
    detail = "; ".join(said)
    return problem(
        422, detail or "The request is not well formed.", slug="malformed", errors=errors
    )


def _http_error(request: HttpRequest, exc: ninja_errors.HttpError) -> HttpResponse:
    status = exc.status_code
    message = str(exc)
    if status == 400 and "parse" in message.lower():
        message = "The body is not valid JSON."
    return problem(status, message, slug="http-" + str(status))


def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _refused(request, tokens.Refused(401, tokens.MISSING, error="invalid_request"))


def install(api: NinjaAPI) -> None:
    api.exception_handler(tokens.Refused)(_refused)
    api.exception_handler(ValidationError)(_validation)
    api.exception_handler(PermissionDenied)(_permission)
    api.exception_handler(Http404)(_not_found)
    api.exception_handler(ninja_errors.ValidationError)(_malformed)
    api.exception_handler(ninja_errors.AuthenticationError)(_unauthenticated)
    api.exception_handler(ninja_errors.HttpError)(_http_error)


def method_not_allowed_as_problem(patterns: list[Any]) -> list[Any]:
    """django-ninja answers a method an address does not take with a plain-text 405; make it
    a problem (with the same Allow header) on every one of the API's addresses."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _problem_for_405(pattern.callback)
    return patterns


def _problem_for_405(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)  # keeps csrf_exempt: a token, not a cookie, authenticates these requests
    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith(
            "application/problem+json"
        ):
            return response
        allowed = response.get("Allow", "")
        return problem(
            405,
            f"{request.method} is not used here; this address takes {allowed}.",
            slug="method-not-allowed",
            headers={"Allow": allowed},
        )

    return answered


@csrf_exempt  # no cookie authenticates here; a POST to a wrong address is a 404, not a 403 page
def route_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other address under /api/v1/: a problem, not the HTML 404 page."""
    return problem(404, "There is no such endpoint; see /api/v1/openapi.json.", slug="not-found")
