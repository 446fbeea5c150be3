"""The REST API's authentication: a client's API token as `Authorization: Bearer`.

`READ` lets through tokens of scope read or write, `WRITE` only write; a SCIM token is
refused (403 `insufficient_scope`). The check itself is `tokens.authenticate`, the same one
SCIM uses; a refusal reaches the caller as a problem (`deskgate.api.problems`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from deskgate.accounts.audit import Via
from deskgate.apitokens import tokens


class TokenAuth(HttpBearer):
    def __init__(self, needs: frozenset[str]) -> None:
        super().__init__()
        self.needs = needs

    def __call__(self, request: HttpRequest) -> Any:
        # Every request is checked, with or without a header: the refusal says what to send.
        return tokens.authenticate(request, door=Via.API, needs=self.needs)

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        raise NotImplementedError  # __call__ does the whole check


READ = TokenAuth(frozenset({"read", "write"}))
WRITE = TokenAuth(frozenset({"write"}))


def use_of(request: HttpRequest) -> tokens.Use:
    use = getattr(request, "auth", None)
    if not isinstance(use, tokens.Use):  # pragma: no cover - every operation has an auth
        raise tokens.Refused(401, tokens.MISSING, error="invalid_request")
    return use
