"""9. Tenant isolation (R10): every admin URL and form, given another client's user or
template id, answers exactly as for an id that does not exist; bulk actions, the audit
trail and searches never reach another client's users.
"""

from __future__ import annotations

import re
import uuid

import pytest

from deskgate.accounts.models import AuditEvent, MessageTemplate, User
from deskgate.signin.models import RememberedDevice, SignInGuard
from tests.security.conftest import comparable, full_sign_in, routes, visible_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_clients(browser, user_factory, tenant_factory, tenant):
    other = tenant_factory("Contoso")
    admin = user_factory("admin", "off", username="north.admin", full_name="North Admin")
    own_agent = user_factory("agent", "off", full_name="Own Agent")
    own_template = MessageTemplate.objects.create(
        client=tenant, name="Own template", channel="sms", sender="Northwind", body="Hi"
    )
    foreign = user_factory(
        "agent",
        "email",
        client=other,
        username="contoso.agent",
        full_name="Contoso Secretagent",
        email="secretagent@contoso.example",
    )
    foreign_template = MessageTemplate.objects.create(
        client=other,
        name="Contoso template",
        channel="sms",
        sender="Contoso",
        body="Contoso secret body",
    )
    SignInGuard.objects.create(user=foreign, code_failures=3)
    a = full_sign_in(browser(), admin)
    return a, admin, own_agent, own_template, foreign, foreign_template


def snapshot(user: User) -> tuple:
    user.refresh_from_db()
    guard = SignInGuard.objects.filter(user=user).values_list("code_failures", flat=True).first()
    return (
        user.username,
        user.full_name,
        user.level,
        user.is_active,
        user.email,
        user.work_phone,
        user.mfa_method,
        user.password,
        guard,
        RememberedDevice.objects.filter(user=user).count(),
    )


def user_form(user: User, **changes: str) -> dict[str, str]:
    return {
        "username": "renamed.by.north",
        "full_name": "Renamed By North",
        "level": "admin",
        "employment": "inactive",
        "email": "north@evil.example",
        "work_phone": "",
        "mfa_method": "off",
        "password": "a temporary password 123",
    } | changes


def test_every_id_of_another_client_answers_like_a_missing_id(two_clients) -> None:
    a, _admin, own_agent, own_template, foreign, foreign_template = two_clients
    missing_user = User.objects.latest("pk").pk + 1000
    missing_template = MessageTemplate.objects.latest("pk").pk + 1000
    before = snapshot(foreign)
    body_before = foreign_template.body
    # (method, path pattern, form) with {u}/{t} for the probed id
    probes: list[tuple[str, str, dict[str, str] | None]] = []
    for route, name, params in routes():
        path = "/" + route
        # The pages' ids; SCIM and the REST API (UUIDs, bearer tokens) are test_20 and test_21.
        if "<int:user_id>" in route:
            path = path.replace("<int:user_id>", "{u}")
            probes.append(("GET", path, None))
            probes.append(("POST", path, user_form(foreign)))
        if "template_id" in params:
            path = path.replace("<int:template_id>", "{t}")
            probes.append(("GET", path, None))
            probes.append(
                (
                    "POST",
                    path,
                    {"name": "Hijacked", "channel": "sms", "sender": "Evil", "body": "hijacked"},
                )
            )
        if name == "audit":
            probes.append(("GET", "/audit/?user={u}", None))
        if name == "template_list":
            probes.append(("GET", f"/templates/{own_template.pk}/?agent={{u}}", None))
    assert len(probes) >= 10, probes
    csrf = a.csrf_token("/users/")
    for method, pattern, form in probes:
        answers = []
        for user_id, template_id in (
            (foreign.pk, foreign_template.pk),
            (missing_user, missing_template),
        ):
            path = pattern.format(u=user_id, t=template_id)
            response = a.get(path) if method == "GET" else a.post(path, form, csrf=csrf)
            answers.append(
                (response.status_code, comparable(response, str(user_id), str(template_id)))
            )
        assert answers[0] == answers[1], (method, pattern)
        # 404, or 405 for a GET of a POST-only action: the same for both ids either way.
        status = answers[0][0]
        assert status == 404 if method == "POST" else status in (404, 405), (method, pattern)
        assert "Contoso" not in answers[0][1], (method, pattern)
    assert snapshot(foreign) == before
    foreign_template.refresh_from_db()
    assert foreign_template.body == body_before and foreign_template.name == "Contoso template"
    # Own ids work, so the 404s above are not the whole admin area being broken.
    assert a.get(f"/users/{own_agent.pk}/").status_code == 200
    assert a.get(f"/templates/{own_template.pk}/").status_code == 200


def test_bulk_actions_cannot_touch_another_clients_users(two_clients, user_factory) -> None:
    a, admin, own_agent, _t, foreign, _ft = two_clients
    missing = User.objects.latest("pk").pk + 1000
    before = snapshot(foreign)
    answers = []
    for target in (foreign.pk, missing):
        response = a.post(
            "/users/bulk/",
            [
                ("key", str(uuid.uuid4())),
                ("method", "off"),
                ("scope", "selected"),
                ("users", target),
            ],
            form="/users/",
        )
        answers.append((response.status_code, comparable(response, str(target))))
    assert answers[0] == answers[1]
    # Mixed with an own user, and by level: only the own client's users change.
    a.post(
        "/users/bulk/",
        [
            ("key", str(uuid.uuid4())),
            ("method", "email"),
            ("scope", "selected"),
            ("users", own_agent.pk),
            ("users", foreign.pk),
        ],
        form="/users/",
    )
    a.post(
        "/users/bulk/",
        [("key", str(uuid.uuid4())), ("method", "off"), ("scope", "level:agent")],
        form="/users/",
    )
    assert snapshot(foreign) == before
    own_agent.refresh_from_db()
    assert own_agent.mfa_method == "off"
    assert not AuditEvent.objects.filter(subject=foreign, actor=admin).exists()
    assert not AuditEvent.objects.filter(client=foreign.client, actor=admin).exists()


def test_lists_searches_and_the_audit_trail_show_no_other_client(two_clients) -> None:
    a, _admin, _own, _t, foreign, _ft = two_clients
    searches = ["Secretagent", foreign.email, "contoso", foreign.username, "+358"]
    pages = [(a.get("/users/", params={"q": q}), q) for q in searches]
    pages += [(a.get("/users/", params={"q": q, "partial": "1"}), q) for q in searches]
    pages += [
        (a.get(path), "")
        for path in (
            "/users/",
            "/users/?status=inactive",
            "/templates/",
            "/audit/",
            "/settings/",
            "/settings/sso/",
        )
    ]
    for page, typed in pages:
        assert page.status_code == 200, page.url
        text = comparable(page, typed) if typed else page.text
        for secret in (
            "Secretagent",
            "secretagent@contoso",
            "Contoso template",
            "Contoso secret body",
            foreign.username,
            foreign.work_phone,
        ):
            assert secret not in text, (page.url, secret)


def test_rules_do_not_reveal_another_clients_addresses(two_clients) -> None:
    """R4 compares destinations within one client: using a Contoso agent's address for a
    Northwind user is allowed and names nobody (user names alone are platform-wide)."""
    a, *_rest, foreign, _ft = two_clients
    response = a.post(
        "/users/create/",
        {
            "username": "north.agent",
            "full_name": "North Agent",
            "level": "agent",
            "employment": "active",
            "email": foreign.email,
            "work_phone": "",
            "mfa_method": "email",
        },
    )
    assert response.status_code == 302, visible_text(response)
    for page in (a.get(response.headers["Location"]), a.get("/users/")):
        assert "Secretagent" not in page.text
    assert not re.search(r"contoso\.agent", a.get("/audit/").text)
