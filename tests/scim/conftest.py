"""SCIM test kit: a client's SCIM token and a directory that speaks to /scim/v2/."""

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

SCIM = "application/scim+json"
BASE = "/scim/v2/"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DESKGATE = "urn:deskgate:params:scim:schemas:extension:deskgate:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Directory:
    """A directory (Entra ID, Okta) holding one client's SCIM token."""

    http: HttpClient
    secret: str
    client: Client

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}", **(headers or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        extra: dict[str, Any] = self._headers(headers)
        return self.http.get(BASE + path, params, **extra)

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = SCIM,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else json.dumps(body) if body is not None else ""
        call = getattr(self.http, method.lower())
        extra: dict[str, Any] = self._headers(headers)
        return call(BASE + path, data, content_type=content_type, **extra)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("PUT", path, body, **kw)

    def patch(self, path: str, operations: list[dict[str, Any]], **kw: Any) -> Any:
        return self.send("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.send("DELETE", path, **kw)

    def create(self, username: str = "ada.lovelace", **attributes: Any) -> dict[str, Any]:
        response = self.post("Users", new_user(username, **attributes))
        assert response.status_code == 201, response.content
        created: dict[str, Any] = response.json()
        return created


def new_user(username: str = "ada.lovelace", **attributes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE],
        "userName": username,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": f"{username}@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    body.update(attributes)
    return body


def issue(client: Client, scope: str = "scim", name: str = "Entra ID") -> str:
    return tokens.issue(client, name=name, scope=scope, expires_days=None, by=OPERATOR).secret


def make_directory(client: Client, scope: str = "scim", name: str = "Entra ID") -> Directory:
    return Directory(HttpClient(), issue(client, scope, name), client)


@pytest.fixture
def directory_for(db: None) -> Callable[..., Directory]:
    return make_directory


@pytest.fixture
def directory(tenant: Client, directory_for: Callable[..., Directory]) -> Directory:
    return directory_for(tenant)
