"""REST API test kit: a program holding one of a client's API tokens, speaking to /api/v1/."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client
from deskgate.apitokens import tokens

BASE = "/api/v1"


@dataclass
class Program:
    """A program with a token of one client: `get`, `post`, `patch` answer (status, body)."""

    http: HttpClient
    secret: str
    client: Client

    def _extra(self) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(BASE + path, params, **self._extra())

    def send(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body) if body is not None else ""
        call = getattr(self.http, method.lower())
        return call(BASE + path, data, content_type="application/json", **self._extra())

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.send("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.send("PATCH", path, body, **kw)


@pytest.fixture
def program_for(db: None) -> Callable[..., Program]:
    """program_for(client, scope="write"): a program holding a new token of `client`."""

    def make(client: Client, scope: str = "write", name: str | None = None) -> Program:
        issued = tokens.issue(
            client,
            name=name or f"{scope} program",
            scope=scope,
            expires_days=None,
            by=OPERATOR,
        )
        return Program(HttpClient(), issued.secret, client)

    return make


@pytest.fixture
def program(program_for: Callable[..., Program], tenant: Client) -> Program:
    return program_for(tenant, "write")


@pytest.fixture
def reader(program_for: Callable[..., Program], tenant: Client) -> Program:
    return program_for(tenant, "read")


def users_as_stored() -> list[dict[str, Any]]:
    """Every user row as stored, with the count of changes on the audit trail: what a refusal
    must not change (reads and refused tokens are on the trail too, by design)."""
    from deskgate.accounts.models import AuditEvent, User

    rows: list[dict[str, Any]] = [dict(row) for row in User.objects.order_by("pk").values()]
    changes = AuditEvent.objects.exclude(action__in=["api.read", "token.refused"])
    return [*rows, {"audit_events": changes.count()}]


def problem_of(response: Any, status: int) -> dict[str, Any]:
    """The response's RFC 9457 body, checked for its status, media type and members."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://deskgate.example/problems/")
    assert body["title"] and body["detail"]
    return body
