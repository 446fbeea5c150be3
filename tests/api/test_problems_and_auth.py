"""Every refusal under /api/v1/ is an RFC 9457 problem, and every operation needs a token of
the right scope; the OpenAPI document needs none."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.apitokens import tokens
from tests.api.conftest import BASE, Program, problem_of, users_as_stored

ANY_ID = "00000000-0000-0000-0000-000000000000"
READS = [("GET", "/users"), ("GET", f"/users/{ANY_ID}"), ("GET", "/audit")]
WRITES = [
    ("POST", "/users"),
    ("PATCH", f"/users/{ANY_ID}"),
    ("POST", f"/users/{ANY_ID}/activate"),
    ("POST", f"/users/{ANY_ID}/deactivate"),
    ("POST", f"/users/{ANY_ID}/unlock"),
    ("POST", f"/users/{ANY_ID}/revoke-devices"),
    ("POST", f"/users/{ANY_ID}/sign-out-everywhere"),
    ("POST", "/users/bulk-mfa"),
]


def call(http: HttpClient, method: str, path: str, secret: str | None = None):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return http.generic(method, BASE + path, "{}", content_type="application/json", headers=headers)


def test_the_openapi_document_is_3_1_and_needs_no_token(client: HttpClient) -> None:
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in document["paths"].items()
        for method in item
    }
    assert {(m, p.replace(ANY_ID, "{user_id}")) for m, p in READS + WRITES} == operations
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = set(operation["responses"])
            assert {"401", "403", "429", "422"} <= declared, (method, path)
            assert operation["security"], (method, path)


@pytest.mark.parametrize(("method", "path"), READS + WRITES)
def test_no_token_is_401_with_a_bearer_challenge(client: HttpClient, method, path) -> None:
    response = call(client, method, path)
    body = problem_of(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(("method", "path"), [READS[0], WRITES[0]])
def test_a_wrong_token_is_401_invalid_token(client: HttpClient, db, method, path) -> None:
    response = call(client, method, path, "dgt_not-a-token")
    problem_of(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_read_token_cannot_write(reader: Program, method, path) -> None:
    before = users_as_stored()
    response = call(reader.http, method, path, reader.secret)
    body = problem_of(response, 403)
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert body["detail"] == (
        "This token's scope is REST API, read only; this needs REST API, read and write."
    )
    assert users_as_stored() == before


@pytest.mark.parametrize(("method", "path"), READS + WRITES)
def test_a_scim_token_is_refused_here(program_for, tenant, method, path) -> None:
    scim = program_for(tenant, "scim")
    body = problem_of(call(scim.http, method, path, scim.secret), 403)
    assert body["type"].endswith("insufficient-scope")


def test_revoked_and_expired_tokens_are_401(program: Program, tenant, clock) -> None:
    short = tokens.issue(tenant, name="Short", scope="write", expires_days=1, by=OPERATOR)
    clock(timedelta(days=2))
    expired = call(program.http, "GET", "/users", short.secret)
    assert "expired" in problem_of(expired, 401)["detail"]
    tokens.revoke(tokens.tokens_of(tenant).get(name="write program"), by=OPERATOR)
    revoked = program.get("/users")
    assert "revoked" in problem_of(revoked, 401)["detail"]
    assert revoked["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_the_rate_limit_is_429_with_retry_after(program: Program, settings) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 2
    answers = [program.get("/users") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    problem_of(answers[2], 429)
    assert int(answers[2]["Retry-After"]) >= 1


@pytest.mark.parametrize("raw", ["{bad", "[1, 2", '{"username": "a"', "\x00", "null"])
def test_a_body_that_is_not_json_or_not_an_object_is_a_problem(program: Program, raw) -> None:
    before = users_as_stored()
    response = program.post("/users", raw=raw)
    assert response.status_code in (400, 422)
    problem_of(response, response.status_code)
    assert users_as_stored() == before


def test_a_body_that_is_not_valid_json_says_so(program: Program) -> None:
    assert problem_of(program.post("/users", raw="{bad"), 400)["detail"] == (
        "The body is not valid JSON."
    )


def test_an_unknown_address_and_a_malformed_id_are_404_problems(program: Program) -> None:
    for path in ("/nope", "/users/123", "/users/not-a-uuid/unlock", "/users/"):
        problem_of(program.get(path), 404)
    problem_of(program.post("/nowhere", {}), 404)


def test_a_post_to_an_unknown_address_is_not_caught_by_csrf(program: Program) -> None:
    http = HttpClient(enforce_csrf_checks=True)
    response = http.post(f"{BASE}/nowhere", "{}", content_type="application/json")
    problem_of(response, 404)
    # The operations themselves authenticate by token, not cookie: no CSRF token needed.
    response = http.post(
        f"{BASE}/users",
        json.dumps({"username": "csrf.free", "full_name": "C F"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {program.secret}",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/users"), ("PUT", f"/users/{ANY_ID}"), ("GET", "/users/bulk-mfa")],
)
def test_a_method_an_address_does_not_take_is_a_405_problem(program: Program, method, path) -> None:
    response = call(program.http, method, path, program.secret)
    body = problem_of(response, 405)
    assert response["Allow"]
    assert method in body["detail"]


def test_nothing_was_created_by_any_refusal_above(db) -> None:
    assert not User.objects.exists()
