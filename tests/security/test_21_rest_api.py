"""21. The REST API: tenant isolation, scopes, dead tokens, a demoted maker, leaks and the
rate limit under parallel requests.

A program holds a token of one client and speaks HTTP to the running product (pytest-django's
`live_server`): it must not read, change or even detect another client's users, audit rows
or cursors; a read token must not write and a SCIM token opens nothing here; a revoked or
expired token, or one whose maker is no longer an admin, is refused; tokens, secrets and full
phone numbers never reach the trail or the logs; parallel requests never pass the limit.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import requests

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.api import cursors
from deskgate.apitokens import tokens

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 60


class Program:
    """A program with one token, speaking HTTP to the live server."""

    def __init__(self, base: str, secret: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.secret = secret

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=TIMEOUT,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.call("PATCH", path, body)


@pytest.fixture
def program_for(live_server: Any) -> Callable[..., Program]:
    def make(client: Client, scope: str = "write", *, by: Actor = OPERATOR, **kw: Any) -> Program:
        issued = tokens.issue(
            client,
            name=kw.get("name", f"{scope} program"),
            scope=scope,
            expires_days=kw.get("expires_days"),
            by=by,
        )
        return Program(live_server.url, issued.secret)

    return make


@pytest.fixture
def victim(tenant_factory, user_factory) -> User:
    globex = tenant_factory("Globex")
    user = user_factory(
        "agent", "sms", client=globex, username="victim", work_phone="+358401112233"
    )
    actions.change_mfa_method(user, "email", by=OPERATOR)  # something on Globex's trail
    return user


def test_another_clients_user_answers_exactly_as_a_missing_one(
    tenant: Client, program_for, victim: User
) -> None:
    program = program_for(tenant)
    missing = uuid4()
    for method, path, body in [
        ("GET", "/users/{}", None),
        ("PATCH", "/users/{}", {"full_name": "Owned"}),
        ("POST", "/users/{}/deactivate", None),
        ("POST", "/users/{}/activate", None),
        ("POST", "/users/{}/unlock", None),
        ("POST", "/users/{}/revoke-devices", None),
        ("POST", "/users/{}/sign-out-everywhere", None),
    ]:
        theirs = program.call(method, path.format(victim.subject), body)
        nobodys = program.call(method, path.format(missing), body)
        assert theirs.status_code == nobodys.status_code == 404, (method, path)
        assert theirs.json() == nobodys.json()
        assert theirs.headers["Content-Type"] == nobodys.headers["Content-Type"]
    victim.refresh_from_db()
    assert victim.is_active and victim.full_name != "Owned" and victim.mfa_method == "email"


def test_search_bulk_and_the_trail_never_reach_another_client(
    tenant: Client, program_for, victim: User, user_factory
) -> None:
    user_factory(username="own.agent")
    program = program_for(tenant)
    for q in ("victim", "+358401112233", "victim@example.com", "Globex"):
        assert program.get("/users", q=q).json()["items"] == []
    everyone = program.get("/users", limit=200).text
    assert str(victim.subject) not in everyone and "victim" not in everyone
    bulk = program.post("/users/bulk-mfa", {"method": "off", "user_ids": [str(victim.subject)]})
    assert bulk.json()["results"] == [
        {"id": str(victim.subject), "username": None, "applied": False, "reason": "No such user."}
    ]
    victim.refresh_from_db()
    assert victim.mfa_method == "email"
    # Their trail: not by user id, not by action, not with a cursor forged from their rows.
    assert program.get("/audit", user_id=str(victim.subject)).json()["items"] == []
    theirs = set(AuditEvent.objects.filter(client=victim.client).values_list("pk", flat=True))
    newest = AuditEvent.objects.filter(client=victim.client).order_by("-at", "-pk").first()
    assert newest is not None
    forged = cursors.encode(newest.at + timedelta(seconds=1), newest.pk + 1)
    for params in ({}, {"action": "user.mfa_changed"}, {"cursor": forged}):
        shown = {e["id"] for e in program.get("/audit", limit=200, **params).json()["items"]}
        assert not shown & theirs
    user_cursor = cursors.encode(" ", 0)  # before everyone: still only the caller's users
    names = [u["username"] for u in program.get("/users", cursor=user_cursor).json()["items"]]
    assert names == ["own.agent"]


def test_a_read_token_cannot_write_and_a_scim_token_opens_nothing(
    tenant: Client, program_for, user_factory
) -> None:
    user = user_factory(username="vera")
    reader, scim = program_for(tenant, "read"), program_for(tenant, "scim", name="Entra ID")
    assert reader.get("/users").status_code == 200
    writes = [
        ("POST", "/users", {"username": "new.one", "full_name": "New One"}),
        ("PATCH", f"/users/{user.subject}", {"mfa_method": "email"}),
        ("POST", f"/users/{user.subject}/deactivate", None),
        ("POST", "/users/bulk-mfa", {"method": "email", "level": "agent"}),
    ]
    for method, path, body in writes:
        refused = reader.call(method, path, body)
        assert refused.status_code == 403
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    for method, path, body in [("GET", "/users", None), ("GET", "/audit", None), *writes]:
        assert scim.call(method, path, body).status_code == 403
    user.refresh_from_db()
    assert user.is_active and user.mfa_method == "off"
    assert not User.objects.filter(username="new.one").exists()


def test_revoked_and_expired_tokens_are_refused(tenant: Client, program_for, clock) -> None:
    revoked = program_for(tenant, name="Soon revoked")
    assert revoked.get("/users").status_code == 200
    tokens.revoke(tokens.tokens_of(tenant).get(name="Soon revoked"), by=OPERATOR)
    answer = revoked.get("/users")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    expiring = program_for(tenant, name="Short", expires_days=1)
    clock(timedelta(days=1, seconds=1))
    assert expiring.post("/users", {"username": "late", "full_name": "L"}).status_code == 401
    assert not User.objects.filter(username="late").exists()


def test_the_token_of_a_demoted_admin_is_refused(
    tenant: Client, program_for, admin_user: User, user_factory
) -> None:
    user_factory("admin", username="bo.admin")  # the client keeps an admin
    program = program_for(tenant, by=Actor(user=admin_user))
    assert program.get("/users").status_code == 200
    data = actions.UserInput.of(admin_user)
    data.level = "manager"
    actions.update_user(admin_user, data, by=OPERATOR)
    answer = program.post("/users", {"username": "after", "full_name": "After Demotion"})
    assert answer.status_code == 401
    assert "is no longer an active admin" in answer.json()["detail"]
    assert not User.objects.filter(username="after").exists()


def test_no_token_secret_or_full_number_in_the_trail_or_logs(
    tenant: Client, program_for, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    program = program_for(tenant)
    password = "Sturdy temporary passphrase 7"
    created = program.post(
        "/users",
        {
            "username": "ada",
            "full_name": "Ada L",
            "work_phone": "+358401234567",
            "mfa_method": "sms",
            "password": password,
        },
    ).json()["user"]
    # The client's own program reads the number back in full; the trail never holds it.
    assert program.get(f"/users/{created['id']}").json()["work_phone"] == "+358401234567"
    program.patch(f"/users/{created['id']}", {"work_phone": "+358409876543"})
    program.get("/users", q="+358409876543")
    trail_answer = program.get("/audit", limit=200).text
    trail = " ".join(f"{e.summary} {e.detail}" for e in AuditEvent.objects.all())
    for secret in ("+358401234567", "358401234567", "+358409876543", program.secret, password):
        assert secret not in trail
        assert secret not in trail_answer
        assert secret not in caplog.text


def test_parallel_requests_never_pass_the_limit(
    tenant: Client, program_for, clock, settings
) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 10
    program = program_for(tenant)
    now = clock(timedelta())
    clock(timedelta(seconds=60 - now.second, microseconds=-now.microsecond))  # a fresh window
    barrier = threading.Barrier(16)

    def one(_: int) -> int:
        barrier.wait(timeout=TIMEOUT)
        return program.get("/users").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = Counter(pool.map(one, range(16)))
    assert statuses == {200: 10, 429: 6}
    limited = [
        e for e in AuditEvent.objects.filter(action="token.refused") if e.detail["status"] == 429
    ]
    assert len(limited) == 1
