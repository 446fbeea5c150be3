"""Fixtures for API tokens: issuing through the real module, and requests that carry one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory

from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import Client, User
from deskgate.apitokens import tokens

SCIM = frozenset({"scim"})
READ = frozenset({"read", "write"})  # what a REST read asks: either API scope will do
WRITE = frozenset({"write"})


@pytest.fixture
def other_tenant(tenant_factory: Callable[..., Client]) -> Client:
    return tenant_factory("Contoso", "25.4")


@pytest.fixture
def issue(tenant: Client, admin_user: User) -> Callable[..., tokens.Issued]:
    """issue(name=..., scope=..., expires_days=..., by=..., client=...): a token issued by the
    tenant's admin unless `by` says otherwise."""

    def make(
        name: str = "Entra ID",
        scope: str = "scim",
        expires_days: int | None = 90,
        *,
        by: Actor | None = None,
        client: Client | None = None,
    ) -> tokens.Issued:
        return tokens.issue(
            client or tenant,
            name=name,
            scope=scope,
            expires_days=expires_days,
            by=by or Actor(user=admin_user, ip="192.0.2.1"),
        )

    return make


@pytest.fixture
def operator_token(tenant: Client) -> tokens.Issued:
    return tokens.issue(tenant, name="Operator's", scope="scim", expires_days=None, by=OPERATOR)


def request_with(
    authorization: str | None, *, ip: str = "198.51.100.7", path: str = "/scim/v2/Users"
) -> HttpRequest:
    """A GET as a program sends it: the Authorization header as given (None: none at all)."""
    extra: dict[str, Any] = {"REMOTE_ADDR": ip}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    return RequestFactory().get(path, **extra)


def bearer(secret: str, **kwargs: Any) -> HttpRequest:
    return request_with(f"Bearer {secret}", **kwargs)
