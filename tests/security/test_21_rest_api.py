"""21. The REST API: tenant isolation, scopes, dead tokens, a demoted maker, leaks and the
rate limit under parallel requests.

A program holds a token of one client and speaks HTTP to the running product (pytest-django's
`live_server`): it must not read, change or even detect another client's users, audit rows
or cursors; a read token must not write and a SCIM token opens nothing here; a revoked or
expired token, or one whose maker is no longer an admin, is refused; tokens, secrets and full
phone numbers never reach the trail or the logs; parallel requests never pass the limit.
The door checks walk every operation of the live OpenAPI document, and after each refusal
the users, their locks, devices and sessions and the trail's changes are as they were.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import requests
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User, UserSession
from deskgate.api import cursors
from deskgate.apitokens import tokens
from deskgate.signin.models import RememberedDevice, SignInGuard

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


def stored() -> list[Any]:
    """Everything a refusal must leave as it was: the users, their sign-in locks, remembered
    devices and sessions, and the count of changes on the trail (reads and refused tokens
    are on the trail too, by design, so they are left out of the count)."""
    return [
        [dict(row) for row in User.objects.order_by("pk").values()],
        [dict(row) for row in SignInGuard.objects.order_by("pk").values()],
        [dict(row) for row in RememberedDevice.objects.order_by("pk").values()],
        [dict(row) for row in UserSession.objects.order_by("pk").values()],
        AuditEvent.objects.exclude(
            action__in=[AuditAction.API_READ, AuditAction.TOKEN_REFUSED]
        ).count(),
    ]


def every_operation(base: str, user: User) -> list[tuple[str, str, Any]]:
    """Every operation of the live OpenAPI document, aimed at `user`, with a body that a write
    token of the user's own client would get through: a refusal is the door's, not the body's.
    An operation added to the API and not here fails the walk (no silent gaps)."""
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/users"): {"username": "new.one", "full_name": "New One"},
        ("PATCH", "/users/{user_id}"): {"full_name": "Owned", "mfa_method": "email"},
        ("POST", "/users/bulk-mfa"): {"method": "email", "user_ids": [str(user.subject)]},
    }
    document = requests.get(base + "/api/v1/openapi.json", timeout=TIMEOUT).json()
    walk = []
    for template, item in document["paths"].items():
        path = template.removeprefix("/api/v1")
        for method in item:
            method = method.upper()
            if method == "GET" or path.startswith("/users/{user_id}/"):
                body = None
            else:
                body = bodies.pop((method, path))
            walk.append((method, path.format(user_id=user.subject), body))
    assert len(walk) >= 11 and not bodies, bodies
    return walk


def lock_and_remember(user: User) -> None:
    """Something for unlock, revoke-devices and sign-out-everywhere to end."""
    now = timezone.now()
    SignInGuard.objects.update_or_create(
        user=user,
        defaults={"code_failures": 10, "locked_until": now + timedelta(hours=1), "lock_count": 1},
    )
    RememberedDevice.objects.create(
        user=user,
        token_hash=secrets.token_hex(32),
        label="Firefox",
        created_at=now,
        expires_at=now + timedelta(days=30),
    )
    UserSession.objects.create(session_key=secrets.token_hex(20), user=user)


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
    lock_and_remember(user)
    return user


def test_another_clients_user_answers_exactly_as_a_missing_one(
    tenant: Client, program_for, victim: User, live_server
) -> None:
    program = program_for(tenant)
    missing = User(subject=uuid4())
    before = stored()
    named = 0
    for (method, path, body), (_, nobodys_path, _) in zip(
        every_operation(live_server.url, victim),
        every_operation(live_server.url, missing),
        strict=True,
    ):
        if path == nobodys_path:
            continue  # no user in the path: the list, create, bulk and trail test below
        named += 1
        theirs = program.call(method, path, body)
        nobodys = program.call(method, nobodys_path, body)
        assert theirs.status_code == nobodys.status_code == 404, (method, path)
        assert theirs.json() == nobodys.json()
        assert theirs.headers["Content-Type"] == nobodys.headers["Content-Type"]
        assert stored() == before, (method, path)
    assert named == 7  # get, change, activate, deactivate, unlock, revoke-devices, sign-out
    victim.refresh_from_db()
    assert victim.is_active and victim.full_name != "Owned" and victim.mfa_method == "email"


def test_search_bulk_and_the_trail_never_reach_another_client(
    tenant: Client, program_for, victim: User, user_factory
) -> None:
    user_factory(username="own.agent")
    program = program_for(tenant)
    before = stored()
    for q in ("victim", "+358401112233", "victim@example.com", "Globex"):
        assert program.get("/users", q=q).json()["items"] == []
    everyone = program.get("/users", limit=200).text
    assert str(victim.subject) not in everyone and "victim" not in everyone
    bulk = program.post("/users/bulk-mfa", {"method": "off", "user_ids": [str(victim.subject)]})
    assert bulk.json()["results"] == [
        {"id": str(victim.subject), "username": None, "applied": False, "reason": "No such user."}
    ]
    after = stored()  # the users, locks, devices and sessions as they were
    assert after[:4] == before[:4] and after[4] == before[4] + 1
    # The one change on the trail: the caller's own record of its bulk call, naming no one.
    bulk_event = AuditEvent.objects.get(action=AuditAction.USER_BULK_MFA)
    assert bulk_event.client_id == tenant.pk and bulk_event.subject_id is None
    assert bulk_event.detail["applied"] == 0
    recorded = f"{bulk_event.summary} {bulk_event.detail}"
    assert "victim" not in recorded and str(victim.subject) not in recorded
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
    # Cursors Globex's own program was given, passed on to Acme's: nothing of Globex's.
    user_factory(client=victim.client, username="victim.two", full_name="Zed Two")
    globex = program_for(victim.client, "read")
    their_users = globex.get("/users", limit=1).json()
    their_trail = globex.get("/audit", limit=1).json()
    assert their_users["next_cursor"] and their_trail["next_cursor"]
    names = program.get("/users", cursor=their_users["next_cursor"]).json()["items"]
    assert all(u["username"] == "own.agent" for u in names)
    trail = program.get("/audit", limit=200, cursor=their_trail["next_cursor"]).json()["items"]
    assert not {e["id"] for e in trail} & set(
        AuditEvent.objects.filter(client=victim.client).values_list("pk", flat=True)
    )


def test_a_read_token_cannot_write_and_a_scim_token_opens_nothing(
    tenant: Client, program_for, user_factory, live_server
) -> None:
    user = user_factory(username="vera")
    lock_and_remember(user)
    reader, scim = program_for(tenant, "read"), program_for(tenant, "scim", name="Entra ID")
    assert reader.get("/users").status_code == 200
    walk = every_operation(live_server.url, user)
    writes = [(method, path, body) for method, path, body in walk if method != "GET"]
    assert len(writes) == 8
    before = stored()
    for method, path, body in writes:
        refused = reader.call(method, path, body)
        assert refused.status_code == 403, (method, path)
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert stored() == before, (method, path)
    for method, path, body in walk:
        refused = scim.call(method, path, body)
        assert refused.status_code == 403, (method, path)
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
        assert stored() == before, (method, path)
    assert not User.objects.filter(username="new.one").exists()


def test_revoked_and_expired_tokens_are_refused(
    tenant: Client, program_for, clock, user_factory, live_server
) -> None:
    user = user_factory(username="vera")
    lock_and_remember(user)
    walk = every_operation(live_server.url, user)
    revoked = program_for(tenant, name="Soon revoked")
    assert revoked.get("/users").status_code == 200
    tokens.revoke(tokens.tokens_of(tenant).get(name="Soon revoked"), by=OPERATOR)
    expiring = program_for(tenant, name="Short", expires_days=1)
    clock(timedelta(days=1, seconds=1))
    before = stored()
    for dead in (revoked, expiring):
        for method, path, body in walk:
            answer = dead.call(method, path, body)
            assert answer.status_code == 401, (method, path)
            assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
            assert stored() == before, (method, path)
    assert not User.objects.filter(username="new.one").exists()


def test_the_token_of_a_demoted_admin_is_refused(
    tenant: Client, program_for, admin_user: User, user_factory, live_server
) -> None:
    user_factory("admin", username="bo.admin")  # the client keeps an admin
    user = user_factory(username="vera")
    lock_and_remember(user)
    program = program_for(tenant, by=Actor(user=admin_user))
    assert program.get("/users").status_code == 200
    data = actions.UserInput.of(admin_user)
    data.level = "manager"
    actions.update_user(admin_user, data, by=OPERATOR)
    before = stored()
    for method, path, body in every_operation(live_server.url, user):
        answer = program.call(method, path, body)
        assert answer.status_code == 401, (method, path)
        assert "is no longer an active admin" in answer.json()["detail"]
        assert stored() == before, (method, path)
    assert not User.objects.filter(username="new.one").exists()


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
    # Refusals log and audit too: a number the rules refuse, a create refused with its
    # password, a token one character off, and a user that is not there.
    refused_number = "+3584099988877766655"
    assert program.patch(f"/users/{created['id']}", {"work_phone": refused_number}).status_code
    assert (
        program.post(
            "/users", {"username": "ada", "full_name": "Ada Again", "password": password}
        ).status_code
        == 400
    )
    near_miss = program.secret[:-1] + ("A" if program.secret[-1] != "A" else "B")
    assert Program(program.base.removesuffix("/api/v1"), near_miss).get("/users").status_code == 401
    assert program.get(f"/users/{uuid4()}").status_code == 404
    trail_answer = program.get("/audit", limit=200).text
    trail = " ".join(f"{e.summary} {e.detail}" for e in AuditEvent.objects.all())
    # What the product logged (the test's own HTTP client, urllib3, logs its request lines).
    logged = [r for r in caplog.records if not r.name.startswith("urllib3")]
    assert any(r.name == "django.request" for r in logged)  # the server's records reach caplog
    log_text = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in logged)
    phones = ("+358401234567", "358401234567", "+358409876543", "358409876543", refused_number)
    for secret in (*phones, refused_number[1:], program.secret, near_miss, password):
        assert secret not in trail
        assert secret not in trail_answer
        assert secret not in log_text


def test_parallel_requests_never_pass_the_limit(
    tenant: Client, program_for, clock, settings
) -> None:
    settings.DESKGATE_API_RATE_LIMIT = 20
    program = program_for(tenant)
    now = clock(timedelta())
    clock(timedelta(seconds=60 - now.second, microseconds=-now.microsecond))  # a fresh window
    barrier = threading.Barrier(35)

    def one(_: int) -> tuple[int, str | None]:
        barrier.wait(timeout=TIMEOUT)
        answer = program.get("/users")
        return answer.status_code, answer.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=35) as pool:
        answers = list(pool.map(one, range(35)))
    assert Counter(status for status, _ in answers) == {200: 20, 429: 15}
    for status, retry_after in answers:
        if status == 429:
            # What is left of the window, rounded up to whole seconds.
            assert retry_after is not None and 1 <= int(retry_after) <= 60
    limited = [
        e for e in AuditEvent.objects.filter(action="token.refused") if e.detail["status"] == 429
    ]
    assert len(limited) == 1
