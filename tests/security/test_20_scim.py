"""20. SCIM: tenant isolation, scopes, dead tokens, leaks and the rate limit.

A directory holds a token of one client: it must not read, change or even detect another
client's users (by id or by filter), other scopes must not reach SCIM, a revoked or expired
token opens nothing, and full numbers and tokens never reach the trail or the logs. Each
attack uses a real token against the real URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.apitokens import tokens
from tests.scim.conftest import Directory, make_directory, new_user


@pytest.fixture
def directory_for(db: None) -> Callable[..., Directory]:
    return make_directory


@pytest.fixture
def directory(tenant: Client) -> Directory:
    return make_directory(tenant)


@pytest.fixture
def victim(tenant_factory, directory_for) -> tuple[Directory, dict]:
    other = directory_for(tenant_factory("Globex"), name="Okta")
    return other, other.create("victim", phoneNumbers=[{"value": "+358401112233"}])


def test_another_clients_id_answers_exactly_as_a_missing_one(directory: Directory, victim) -> None:
    _, created = victim
    path = f"Users/{created['id']}"
    missing = "Users/00000000-0000-0000-0000-000000000000"
    for method, send in [
        ("GET", lambda p: directory.get(p)),
        ("PUT", lambda p: directory.put(p, new_user("victim"))),
        (
            "PATCH",
            lambda p: directory.patch(p, [{"op": "replace", "path": "active", "value": False}]),
        ),
        ("DELETE", lambda p: directory.delete(p)),
    ]:
        theirs, nobodys = send(path), send(missing)
        assert (theirs.status_code, theirs.json()) == (nobodys.status_code, nobodys.json()), method
        assert theirs.status_code == 404
    user = User.objects.get(username="victim")
    assert user.is_active and user.full_name == "Ada Lovelace"


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "victim"',
        'emails.value eq "victim@example.com"',
        'userName eq "x" or userName eq "victim"',
        "active eq true",
    ],
)
def test_filters_never_reach_another_client(directory: Directory, victim, expression) -> None:
    _, created = victim
    response = directory.get("Users", filter=expression)
    assert response.status_code == 200
    assert created["id"] not in response.content.decode()
    assert response.json()["totalResults"] == 0


def test_id_filter_of_another_clients_user_finds_nothing(directory: Directory, victim) -> None:
    _, created = victim
    assert directory.get("Users", filter=f'id eq "{created["id"]}"').json()["totalResults"] == 0


@pytest.mark.parametrize("scope", ["read", "write"])
def test_read_and_write_tokens_are_refused_on_scim(tenant, directory_for, scope) -> None:
    program = directory_for(tenant, scope=scope, name=f"Program {scope}")
    for response in (program.get("Users"), program.post("Users", new_user("ada"))):
        assert response.status_code == 403
        assert response.json()["status"] == "403"
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert not User.objects.filter(username="ada").exists()


def test_no_token_a_wrong_one_a_revoked_one_and_an_expired_one_are_401(
    directory: Directory, clock
) -> None:
    anonymous = directory.http.get("/scim/v2/Users")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = directory.http.get("/scim/v2/Users", HTTP_AUTHORIZATION="Bearer dgt_nope")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert wrong.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]

    expiring = tokens.issue(
        directory.client, name="Short", scope="scim", expires_days=1, by=OPERATOR
    )
    clock(timedelta(days=2))
    expired = directory.http.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {expiring.secret}")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    token = tokens.tokens_of(directory.client).get(name="Entra ID")
    tokens.revoke(token, by=OPERATOR)
    revoked = directory.get("Users")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert directory.post("Users", new_user("ada")).status_code == 401
    assert not User.objects.filter(username="ada").exists()


def test_the_rate_limit_answers_429_with_retry_after(directory: Directory, settings) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 3
    answers = [directory.get("ServiceProviderConfig") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[3]["Retry-After"]) >= 1
    assert answers[3].json()["status"] == "429"


def test_no_full_number_or_token_in_the_trail_or_logs(directory: Directory, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    created = directory.create("ada", phoneNumbers=[{"value": "+358401234567", "type": "work"}])
    # The directory that owns the user reads the number back in full.
    assert directory.get(f"Users/{created['id']}").json()["phoneNumbers"][0]["value"] == (
        "+358401234567"
    )
    directory.patch(
        f"Users/{created['id']}",
        [{"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+358409876543"}],
    )
    directory.get("Users", filter='userName eq "ada"')
    trail = " ".join(f"{e.summary} {e.detail}" for e in AuditEvent.objects.all())
    for secret in ("+358401234567", "358401234567", "+358409876543", directory.secret):
        assert secret not in trail
        assert secret not in caplog.text
