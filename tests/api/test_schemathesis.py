"""The OpenAPI document against the running code: Schemathesis generates requests from the
document (valid and invalid ones) with a write token and checks that no answer is a server
error and that every answer is one the document declares, in the shape it declares.

Generated ids are random, so on their own every `/users/{user_id}` case would answer 404 and
a generated user name almost never passes the rules: about half of the cases are aimed (by a
checksum of what was generated, so the same ones each run) at one of the client's seeded users,
and half the creates get a valid user name, keeping every other generated field. That way the
200 and 201 bodies are checked too, and fuzzed changes reach a stored user's rules.

Bounded for CI: 25 examples per operation, derandomized (the same cases each run), no
deadline (the machine is slow and shared). The whole file takes about 15 s on SQLite.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deskgate.accounts.models import Client
from deskgate.wsgi import application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 25

# The document as a program fetches it (no token), from the real WSGI application.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def in_process(db: None) -> Iterator[None]:
    """The requests go through the WSGI application in this thread; like Django's test
    client, keep it from closing the test's database connection after each one."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(in_process: None, tenant: Client, user_factory) -> list[str]:
    """Some users to find, page through and change (the ids the aimed cases use), and the
    admin the client keeps."""
    users = [
        user_factory("admin", username="anna.admin"),
        user_factory("manager", "email", username="mia.manager", email="mia@example.com"),
        user_factory("agent", "sms", username="sam.sms", work_phone="+358401112233"),
        *(user_factory("agent", username=f"agent{n}") for n in range(2)),
    ]
    return [str(u.subject) for u in users]


@pytest.fixture
def write_token(seeded: list[str], program_for, tenant: Client) -> str:
    return program_for(tenant, "write").secret


def _checksum(value: object) -> int:
    return zlib.crc32(repr(value).encode())


def aim(case: Any, seeded: list[str]) -> None:
    """Send about half of the cases to a seeded user, and give about half of the creates a
    valid user name (and a full name if the generated one is blank), chosen by a checksum of
    what was generated; values of the wrong type stay as they are."""
    user_id = case.path_parameters.get("user_id") if case.path_parameters else None
    if isinstance(user_id, str) and _checksum(user_id) % 2 == 0:
        case.path_parameters["user_id"] = seeded[_checksum(user_id) % len(seeded)]
    body = case.body
    if not isinstance(body, dict):
        return
    ids = body.get("user_ids")
    if isinstance(ids, list) and ids and _checksum(ids) % 2 == 0:
        body["user_ids"] = [*ids[1:], *seeded[: _checksum(ids) % len(seeded) + 1]]
    tag = _checksum(body)
    if case.operation.path.endswith("/users") and isinstance(body.get("username"), str) and tag % 2:
        body["username"] = f"gen.{tag:08x}"
        if isinstance(body.get("full_name"), str) and not body["full_name"].strip():
            body["full_name"] = "Generated User"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_matches_the_document(case: Any, seeded: list[str], write_token: str) -> None:
    aim(case, seeded)
    case.call_and_validate(headers={"Authorization": f"Bearer {write_token}"}, checks=CHECKS)
