"""SCIM's answers: JSON as application/scim+json, errors as RFC 7644 §3.12 Error bodies.

`endpoint` wraps every view: it authenticates the token (scope scim), reads a JSON body,
and turns every refusal into an Error with its status and scimType, so no body gives a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import pydantic
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import Error, SCIMException

from deskgate.accounts.audit import Via
from deskgate.apitokens import tokens
from deskgate.scim.mapping import ATTRIBUTE_OF
from deskgate.typed_settings import setting

CONTENT_TYPE = "application/scim+json"
JSON_TYPES = ("application/scim+json", "application/json")
BODY_MAX = 256 * 1024  # a User is a few hundred bytes; Entra's largest PATCH a few KB
NOT_FOUND = "No such user."

View = Callable[..., HttpResponse]


def base_url() -> str:
    """Where SCIM is, absolute, ending in a slash: DESKGATE_BASE_URL/scim/v2/."""
    return f"{str(setting('DESKGATE_BASE_URL')).rstrip('/')}/scim/v2/"


def answer(body: Any, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error(status: int, detail: str, scim_type: str | None = None, **headers: str) -> HttpResponse:
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump()
    return answer(body, status, **headers)


def from_scim(exc: SCIMException) -> HttpResponse:
    found = exc.to_error()
    return error(found.status or exc.status, found.detail or str(exc), found.scim_type)


def from_pydantic(exc: pydantic.ValidationError) -> HttpResponse:
    first = exc.errors()[0]
    found = Error.from_validation_error(first)
    return error(found.status or 400, str(found.detail), found.scim_type or "invalidValue")


def from_rules(exc: ValidationError) -> HttpResponse:
    """A refusal of the action layer: 400 invalidValue naming the attribute and the rule."""
    if hasattr(exc, "error_dict"):
        parts = [
            f"{ATTRIBUTE_OF.get(name, name) if name != '__all__' else 'user'}: {message}"
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        parts = list(exc.messages)
    return error(400, " ".join(parts), "invalidValue")


def refused(exc: tokens.Refused) -> HttpResponse:
    response = error(exc.status, exc.reason, None)
    for name, value in exc.headers(scope="scim").items():
        response[name] = value
    return response


def read_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or InvalidSyntax (400) for anything else."""
    from scim2_models import InvalidSyntaxException

    kind = (request.content_type or "").lower()
    if kind and kind not in JSON_TYPES:
        raise InvalidSyntaxException(
            detail=f"Send the body as {CONTENT_TYPE} (or application/json), not {kind}."
        )
    if len(request.body) > BODY_MAX:
        raise InvalidSyntaxException(detail=f"The body is larger than {BODY_MAX} bytes.")
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSyntaxException(detail=f"The body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    return body


def endpoint(*methods: str) -> Callable[[View], View]:
    """A SCIM view: token of scope scim, the listed methods, every refusal an Error body."""

    def wrap(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                use = tokens.authenticate(request, door=Via.SCIM, needs=frozenset({"scim"}))
            except tokens.Refused as exc:
                return refused(exc)
            if request.method not in methods:
                return error(
                    405, f"{request.method} is not supported here.", None, Allow=", ".join(methods)
                )
            try:
                return view(request, use, *args, **kwargs)
            except SCIMException as exc:
                return from_scim(exc)
            except pydantic.ValidationError as exc:
                return from_pydantic(exc)
            except ValidationError as exc:
                return from_rules(exc)
            except PermissionDenied as exc:
                return error(403, str(exc) or "Not allowed.")
            except Http404:
                return error(404, NOT_FOUND)

        return run

    return wrap
