"""27. The help desk: one permission table, every operation, every level on every level.

Managers are the help desk: they unlock, revoke remembered devices, send set-up links and
resend invitations for the levels below their own (team leaders and agents), and change
no MFA settings: not the method, not the Email or Work phone the method sends codes to,
not in bulk, not by resetting an app or passkeys. One table in the action layer
(`deskgate.accounts.permissions`) says so; README shows it (tests/test_docs.py).

The expectations below are written out by hand from the issue, not read from the table:
every operation is run through the action layer as every level (an inactive admin and
another client's admin too) against every level, and a refusal changes nothing. Then the
doors: the user page shows a manager no MFA control and obeys none forged into its form,
the resets and bulk MFA answer 403 before any step-up, the REST API refuses a token whose
maker is now a manager, and an import by a manager cannot change MFA.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import access, actions, permissions
from deskgate.accounts.actions import imports
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, Level, User
from deskgate.accounts.permissions import Op
from deskgate.apitokens import tokens
from deskgate.apitokens.models import ApiToken
from deskgate.signin import enrolment, factors, passkeys
from deskgate.signin.models import AuthenticatorApp, EnrolmentLink, RememberedDevice, SignInGuard
from deskgate.sso import domains
from deskgate.sso.models import SsoDomain
from tests.api.conftest import Program
from tests.authenticator import enrol
from tests.pages import content, controls, page_text, snapshot

pytestmark = pytest.mark.django_db

LEVELS = [Level.ADMIN, Level.MANAGER, Level.TEAM_LEADER, Level.AGENT]
BELOW_A_MANAGER = {Level.TEAM_LEADER, Level.AGENT}

# (admin, manager): "any" user of their own client, "below" their own level, "yes" (no user
# in particular), "no". Team leaders and agents: "no" everywhere.
EXPECTED: dict[Op, tuple[str, str]] = {
    Op.ADMIN_PAGES: ("yes", "yes"),
    Op.USERS_VIEW: ("any", "any"),
    Op.USERS_EXPORT: ("any", "any"),
    Op.USER_CREATE: ("any", "below"),
    Op.USER_CHANGE: ("any", "below"),
    Op.USER_DEACTIVATE: ("any", "below"),
    Op.USER_PASSWORD: ("any", "below"),
    Op.USER_MFA: ("any", "no"),
    Op.USERS_MFA_BULK: ("any", "no"),
    Op.USER_RESET_FACTORS: ("any", "no"),
    Op.USER_SETUP_LINK: ("any", "below"),
    Op.USER_UNLOCK: ("any", "below"),
    Op.USER_REVOKE_DEVICES: ("any", "below"),
    Op.USER_SIGN_OUT: ("any", "below"),
    Op.INVITATION_RESEND: ("any", "below"),
    Op.INVITATION_REVOKE: ("any", "no"),
    Op.USER_DELETE: ("any", "no"),
    Op.USERS_IMPORT: ("any", "below"),
    Op.TEMPLATES_EDIT: ("yes", "yes"),
    Op.AUDIT_VIEW: ("yes", "yes"),
    Op.CLIENT_SETTINGS: ("yes", "no"),
    Op.API_TOKENS: ("yes", "no"),
    Op.SSO_SETTINGS: ("yes", "no"),
}
ON_USERS = [op for op, cells in EXPECTED.items() if "yes" not in cells]
ON_CLIENT = [op for op in EXPECTED if op not in ON_USERS]


def expected(op: Op, actor: str, target: str | None) -> bool:
    if actor not in (Level.ADMIN, Level.MANAGER):
        return False
    cell = EXPECTED[op][0 if actor == Level.ADMIN else 1]
    if cell == "below":
        return target in BELOW_A_MANAGER
    return cell in ("any", "yes")


def test_the_code_has_the_table_written_here() -> None:
    """A new row in the code needs its expectation here (and the README's copy follows)."""
    assert set(EXPECTED) == set(Op)
    words = {permissions.ANY: "any", permissions.BELOW: "below", permissions.NO: "no"}
    for rule in permissions.TABLE:
        cells = tuple(words[rule.scope(level)] for level in (Level.ADMIN, Level.MANAGER))
        wanted = tuple("any" if c == "yes" else c for c in EXPECTED[rule.op])
        assert cells == wanted, rule.op
        assert rule.scope(Level.TEAM_LEADER) is rule.scope(Level.AGENT) is permissions.NO
        assert rule.on_users is (rule.op in ON_USERS), rule.op


# --- the whole table through the action layer ------------------------------------------------


def state() -> dict[str, Any]:
    """Everything an operation of the table could change."""
    return snapshot() | {
        "guards": list(SignInGuard.objects.order_by("pk").values("user_id", "locked_until")),
        "devices": RememberedDevice.objects.count(),
        "apps": AuthenticatorApp.objects.count(),
        "links": EnrolmentLink.objects.count(),
        "tokens": ApiToken.objects.count(),
        "domains": SsoDomain.objects.count(),
    }


def lock_and_remember(user: User) -> None:
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


CSV_HEADER = "username,full_name,level,email,work_phone,mfa,employment\n"


def import_as(by: Actor, client: Client, lines: str) -> imports.ImportResult:
    rows = imports.read_csv((CSV_HEADER + lines).encode())
    return imports.import_users(client, rows, by=by, dry_run=False, source="people.csv")


def perform(op: Op, by: Actor, client: Client, target: User | None, level: str) -> None:
    """Do `op` through the action layer (or, for the rows no action holds yet, ask the
    table as the page guard or the lead's invitation actions will); raise PermissionDenied
    when refused."""
    assert by.user is not None
    actor = by.user
    if op in (Op.ADMIN_PAGES, Op.USERS_EXPORT, Op.INVITATION_RESEND, Op.INVITATION_REVOKE):
        # Pages: the guard's question. Invitations: wired into their actions at the merge.
        permissions.check(by, op, client.pk, *([level] if target is not None else []))
        return
    if op == Op.USERS_VIEW:
        assert target is not None
        if not access.users_for_admin(actor).filter(pk=target.pk).exists():
            raise PermissionDenied("not listed")
        return
    if op == Op.AUDIT_VIEW:
        if not access.audit_for_admin(actor).filter(client=client).exists():
            raise PermissionDenied("no trail")
        return
    if op == Op.TEMPLATES_EDIT:
        template = actions.TemplateInput("Greeting", "email", "support@example.com", "Hello", "Hi")
        actions.save_template(client, None, template, by=by)
        return
    if op == Op.CLIENT_SETTINGS:
        actions.set_audit_retention(client, 400, by=by)
        return
    if op == Op.API_TOKENS:
        tokens.issue(client, name="Help desk check", scope="read", expires_days=None, by=by)
        return
    if op == Op.SSO_SETTINGS:
        domains.add(client, "northwind.example", by=by)
        return
    if op == Op.USER_CREATE:
        data = actions.UserInput(
            username="new.person", full_name="New Person", level=level, email="new@example.com"
        )
        actions.create_user(client, data, by=by)
        return
    if op == Op.USERS_IMPORT:
        result = import_as(by, client, f"new.person,New Person,{level},new@example.com,,,\n")
        if not result.applied:
            raise PermissionDenied(" ".join(result.rows[0].details))
        return
    assert target is not None
    if op == Op.USER_CHANGE:
        actions.change_user(target, by=by, full_name="Renamed Person")
    elif op == Op.USER_DEACTIVATE:
        actions.set_user_active(target, False, by=by)
    elif op == Op.USER_PASSWORD:
        actions.set_password(target, "a brand new passphrase 9", by=by, temporary=True)
    elif op == Op.USER_MFA:
        actions.change_mfa_method(target, "sms", by=by)
    elif op == Op.USERS_MFA_BULK:
        [outcome] = actions.bulk_change_mfa_method(client, [target], "sms", by=by)
        if not outcome.applied:
            raise PermissionDenied(outcome.reason)
    elif op == Op.USER_RESET_FACTORS:
        factors.reset_app(target, by=by)
        passkeys.reset(target, by=by)
    elif op == Op.USER_SETUP_LINK:
        enrolment.send_link(target, by=by)
    elif op == Op.USER_UNLOCK:
        actions.unlock_user(target, by=by)
    elif op == Op.USER_REVOKE_DEVICES:
        actions.revoke_devices(target, by=by)
    elif op == Op.USER_SIGN_OUT:
        actions.sign_out_everywhere(target, by=by)
    elif op == Op.USER_DELETE:
        actions.delete_user(target, by=by)
    else:  # pragma: no cover - a new row must be performed here
        raise AssertionError(f"no way to perform {op}")


CASES = [(op, actor, target) for op in ON_USERS for actor in LEVELS for target in LEVELS] + [
    (op, actor, None) for op in ON_CLIENT for actor in LEVELS
]


@pytest.mark.parametrize(
    ("op", "actor_level", "target_level"),
    CASES,
    ids=[f"{op.value}-{a}-on-{t or 'client'}" for op, a, t in CASES],
)
def test_every_operation_as_every_level_on_every_level(
    user_factory: Callable[..., User],
    tenant: Client,
    op: Op,
    actor_level: str,
    target_level: str | None,
) -> None:
    user_factory("admin", full_name="Standing Admin")  # the last-admin rule stays out of it
    actor = user_factory(actor_level, full_name="Acting Person")
    target = None
    if target_level is not None and op not in (Op.USER_CREATE, Op.USERS_IMPORT):
        target = user_factory(target_level, "email", full_name="Target Person")
        lock_and_remember(target)
    allowed = expected(op, actor_level, target_level)
    assert permissions.allowed(actor, op, target) is allowed or target is None
    before = state()
    if allowed:
        try:
            perform(op, Actor(user=actor), tenant, target, target_level or "")
        except ValidationError:
            # Past the rights: a rule of the operation's own (the set-up link's mail, say).
            assert op in (Op.USER_SETUP_LINK,), op
        return
    with pytest.raises(PermissionDenied):
        perform(op, Actor(user=actor), tenant, target, target_level or "")
    assert state() == before


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.value)
def test_an_inactive_admin_and_another_clients_admin_may_do_nothing(
    user_factory: Callable[..., User],
    tenant: Client,
    tenant_factory: Callable[..., Client],
    op: Op,
) -> None:
    user_factory("admin", full_name="Standing Admin")
    gone = user_factory("admin", full_name="Gone Admin", active=False)
    stranger = user_factory("admin", client=tenant_factory(name="Southwind"))
    target = user_factory("agent", "email", full_name="Target Person")
    lock_and_remember(target)
    before = state()
    for actor in (gone, stranger):
        with pytest.raises(PermissionDenied):
            perform(op, Actor(user=actor), tenant, target, Level.AGENT)
        assert not permissions.allowed(actor, op, target)
    assert state() == before


def test_mfa_settings_are_the_method_and_the_field_it_sends_codes_to(
    user_factory: Callable[..., User],
) -> None:
    """A manager fixes the Email of an agent whose codes go by SMS, not of one whose codes
    go by Email; the refusal names the rule."""
    manager = user_factory("manager")
    by = Actor(user=manager)
    by_sms = user_factory("agent", "sms", full_name="Sms Agent")
    by_email = user_factory("agent", "email", full_name="Email Agent")
    actions.change_user(by_sms, by=by, email="sms.agent.new@example.com")
    by_sms.refresh_from_db()
    assert by_sms.email == "sms.agent.new@example.com"
    before = state()
    with pytest.raises(PermissionDenied, match="Only an admin can change MFA settings"):
        actions.change_user(by_email, by=by, email="manager@example.com")
    with pytest.raises(PermissionDenied, match="Only an admin can change MFA settings"):
        actions.change_user(by_sms, by=by, work_phone="+358401112233")
    with pytest.raises(PermissionDenied, match="Only an admin can change MFA settings"):
        actions.update_user(by_sms, replace(actions.UserInput.of(by_sms), mfa_method="off"), by=by)
    assert state() == before


# --- the doors -------------------------------------------------------------------------------


@pytest.fixture
def manager(user_factory: Callable[..., User]) -> User:
    user_factory("admin", username="anna.admin", full_name="Anna Admin")
    return user_factory("manager", username="mikko.manager", full_name="Mikko Manager")


@pytest.fixture
def agent(user_factory: Callable[..., User]) -> User:
    found = user_factory(
        "agent", "email", username="aino.agent", full_name="Aino Agent", email="aino@example.com"
    )
    enrol(found)
    lock_and_remember(found)
    return found


def test_the_user_page_shows_a_manager_no_mfa_control_and_obeys_none(
    manager: User, agent: User, signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(manager)
    page = http.get(f"/users/{agent.pk}/")
    assert page.status_code == 200
    shown = controls(page)
    assert {"mfa_method", "email"} <= shown.disabled  # the method, and where it sends codes
    assert "work_phone" not in shown.disabled and "full_name" not in shown.disabled
    html = content(page)
    assert "Only an admin can change MFA settings" in page_text(page)
    assert f"/users/{agent.pk}/unlock/" in html and "Revoke remembered devices" in html
    assert "Reset authenticator app" not in html and "Reset passkeys" not in html

    # A forged form: the details change, the MFA settings do not.
    forged = {
        **shown.values,
        "full_name": "Aino Renamed",
        "mfa_method": "off",
        "email": "mikko@example.com",
        "password": "",
    }
    response = http.post(f"/users/{agent.pk}/", forged)
    assert response.status_code == 302, page_text(response)
    agent.refresh_from_db()
    assert (agent.full_name, agent.mfa_method, agent.email) == (
        "Aino Renamed",
        "email",
        "aino@example.com",
    )
    assert not AuditEvent.objects.filter(subject=agent, action="user.mfa_changed").exists()


@pytest.mark.parametrize("path", ["reset-authenticator", "reset-passkeys"])
def test_a_managers_reset_of_factors_is_refused_before_any_step_up(
    manager: User, agent: User, signed_in: Callable[[User], HttpClient], path: str
) -> None:
    http = signed_in(manager)
    before = state()
    response = http.post(f"/users/{agent.pk}/{path}/")
    assert response.status_code == 403
    assert "Only an admin can change MFA settings" in page_text(response)
    assert state() == before


def test_a_managers_bulk_mfa_is_refused(
    manager: User, agent: User, signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(manager)
    assert 'name="method"' not in content(http.get("/users/"))
    before = state()
    response = http.post("/users/bulk/", {"method": "off", "scope": "level:agent"})
    assert response.status_code == 403
    assert state() == before


def test_the_help_desk_buttons_work_for_a_manager(
    manager: User, agent: User, signed_in: Callable[[User], HttpClient]
) -> None:
    http = signed_in(manager)
    assert http.post(f"/users/{agent.pk}/unlock/").status_code == 302
    assert http.post(f"/users/{agent.pk}/revoke-devices/").status_code == 302
    guard = SignInGuard.objects.get(user=agent)
    assert guard.locked_until is None
    assert not RememberedDevice.objects.filter(user=agent).exists()


def test_the_api_refuses_a_token_whose_maker_is_now_a_manager(
    user_factory: Callable[..., User], tenant: Client, agent: User
) -> None:
    """The API acts as the admin who made the token: once a manager, they change no MFA
    through it either (401 at the next request, nothing changed)."""
    user_factory("admin", full_name="Standing Admin")
    maker = user_factory("admin", full_name="Token Maker")
    issued = tokens.issue(
        tenant, name="Desk", scope="write", expires_days=None, by=Actor(user=maker)
    )
    program = Program(HttpClient(), issued.secret, tenant)
    actions.change_user(maker, by=OPERATOR, level=Level.MANAGER)
    before = state()
    response = program.patch(f"/users/{agent.subject}", {"mfa_method": "off"})
    assert response.status_code == 401
    agent.refresh_from_db()
    assert agent.mfa_method == "email"
    assert state()["users"] == before["users"]


def test_an_import_by_a_manager_changes_no_mfa(manager: User, agent: User, tenant: Client) -> None:
    by = Actor(user=manager)
    before = state()
    result = import_as(by, tenant, "aino.agent,Aino Agent,agent,aino@example.com,,off,\n")
    assert not result.applied
    assert any("Only an admin can change MFA settings" in d for d in result.rows[0].details)
    result = import_as(by, tenant, "aino.agent,Aino Agent,agent,mikko@example.com,,,\n")
    assert not result.applied  # Email is where her codes go
    result = import_as(by, tenant, "new.agent,New Agent,agent,new@example.com,,sms,\n")
    assert not result.applied  # a method other than Settings give new agents
    assert state() == before
    result = import_as(by, tenant, "aino.agent,Aino Import,agent,aino@example.com,,,\n")
    assert result.applied
    agent.refresh_from_db()
    assert (agent.full_name, agent.mfa_method) == ("Aino Import", "email")
