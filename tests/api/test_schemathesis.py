"""The OpenAPI document against the running code: Schemathesis generates requests from the
document (valid and invalid ones) with a write token and checks that no answer is a server
error and that every answer is one the document declares, in the shape it declares.

Bounded for CI: 25 examples per operation, derandomized (the same cases each run), no
deadline (the machine is slow and shared). The whole file takes about a minute on SQLite.
"""

from __future__ import annotations

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
def write_token(in_process: None, program_for, tenant: Client, user_factory) -> str:
    # Some users to find, page through and change, and the admin the client keeps.
    user_factory("admin", username="anna.admin")
    for n in range(3):
        user_factory("agent", username=f"agent{n}")
    return program_for(tenant, "write").secret


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_matches_the_document(case: Any, write_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {write_token}"}, checks=CHECKS)
