"""The named actions: refusals write nothing, changes write the right audit events, and
permissions, tenant isolation (R10), bulk changes (R8) and sessions behave as specified."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import access, actions, contact
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditEvent, Client, MessageTemplate, User, UserSession
from deskgate.signin.models import PendingSignIn
from tests.accounts.conftest import State
from tests.conftest import PASSWORD, sign_in

IP = "203.0.113.7"
AKI_COM = "a\u2022\u2022\u2022\u2022@example.com"  # aki@example.com, masked
AKI_ORG = "a\u2022\u2022\u2022\u2022@example.org"


def by(user: User) -> Actor:
    return Actor(user=user, ip=IP)


def edited(user: User, **changes: Any) -> actions.UserInput:
    data = actions.UserInput.of(user)
    for name, value in changes.items():
        setattr(data, name, value)
    return data


@dataclass
class World:
    """Two 25.x clients and an 11.x one, with the people the tests act as and on."""

    tenant: Client
    admin: User
    manager: User
    team_leader: User
    agent: User
    texter: User
    southwind: Client
    south_admin: User
    south_agent: User
    legacy: Client
    legacy_agent: User


@pytest.fixture
def world(
    tenant: Client,
    tenant_factory: Callable[..., Client],
    legacy_tenant: Client,
    user_factory: Callable[..., User],
    admin_user: User,
) -> World:
    southwind = tenant_factory("Southwind")
    return World(
        tenant=tenant,
        admin=admin_user,
        manager=user_factory("manager", username="mia.manager", full_name="Mia Manager"),
        team_leader=user_factory("team_leader", username="tom.lead", full_name="Tom Lead"),
        agent=user_factory(
            "agent",
            username="aki.agent",
            full_name="Aki Agent",
            email="aki@example.com",
            work_phone="+358401234567",
        ),
        texter=user_factory(
            "agent",
            "sms",
            username="tea.texter",
            full_name="Tea Texter",
            email="tea@example.com",
            work_phone="+358407654321",
        ),
        southwind=southwind,
        south_admin=user_factory("admin", client=southwind, username="sam.south"),
        south_agent=user_factory("agent", client=southwind, username="sid.south"),
        legacy=legacy_tenant,
        legacy_agent=user_factory("agent", client=legacy_tenant, username="leo.legacy"),
    )


# --- a refusal leaves the database exactly as it was ---------------------------------------


def _new(level: str = "agent", **fields: Any) -> actions.UserInput:
    base = {
        "username": "new.user",
        "full_name": "New User",
        "level": level,
        "email": "new.user@example.com",
        "work_phone": "+358405550000",
    }
    return actions.UserInput(**{**base, **fields})


REFUSALS: dict[str, tuple[type[Exception], Callable[[World], object]]] = {
    "create-invalid-user-name": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, _new(username="new user"), by=by(w.admin)),
    ),
    "create-user-name-taken-in-another-client": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, _new(username="SID.South"), by=by(w.admin)),
    ),
    "create-manager-without-email": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, _new("manager", email=""), by=by(w.admin)),
    ),
    "create-without-full-name": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, _new(full_name="   "), by=by(w.admin)),
    ),
    "create-with-too-short-password": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, _new(), by=by(w.admin), password="short"),
    ),
    "create-sms-on-landline": (
        ValidationError,
        lambda w: actions.create_user(
            w.tenant, _new(work_phone="09 1234567", mfa_method="sms"), by=by(w.admin)
        ),
    ),
    "edit-sms-on-landline": (
        ValidationError,
        lambda w: actions.update_user(
            w.agent, edited(w.agent, work_phone="+35891234567", mfa_method="sms"), by=by(w.admin)
        ),
    ),
    "edit-work-phone-to-another-users-sms-number": (
        ValidationError,
        lambda w: actions.update_user(
            w.manager, edited(w.manager, work_phone="040 765 4321"), by=by(w.admin)
        ),
    ),
    "mfa-on-legacy-client": (
        ValidationError,
        lambda w: actions.change_mfa_method(w.legacy_agent, "email", by=OPERATOR),
    ),
    "mfa-unknown-method": (
        ValidationError,
        lambda w: actions.change_mfa_method(w.agent, "carrier-pigeon", by=by(w.admin)),
    ),
    "manager-creates-admin": (
        PermissionDenied,
        lambda w: actions.create_user(w.tenant, _new("admin"), by=by(w.manager)),
    ),
    "manager-edits-admin": (
        PermissionDenied,
        lambda w: actions.update_user(w.admin, edited(w.admin, full_name="X"), by=by(w.manager)),
    ),
    "manager-promotes-agent-to-admin": (
        PermissionDenied,
        lambda w: actions.update_user(w.agent, edited(w.agent, level="admin"), by=by(w.manager)),
    ),
    "manager-sets-admin-password": (
        PermissionDenied,
        lambda w: actions.set_password(w.admin, "a long enough new secret", by=by(w.manager)),
    ),
    "team-leader-edits-agent": (
        PermissionDenied,
        lambda w: actions.change_mfa_method(w.agent, "email", by=by(w.team_leader)),
    ),
    "agent-edits-agent": (
        PermissionDenied,
        lambda w: actions.change_mfa_method(w.texter, "off", by=by(w.agent)),
    ),
    "other-clients-admin-edits": (
        PermissionDenied,
        lambda w: actions.change_mfa_method(w.agent, "email", by=by(w.south_admin)),
    ),
    "other-clients-admin-creates": (
        PermissionDenied,
        lambda w: actions.create_user(w.tenant, _new(), by=by(w.south_admin)),
    ),
    "other-clients-admin-saves-template": (
        PermissionDenied,
        lambda w: actions.save_template(
            w.tenant,
            None,
            actions.TemplateInput("Promo", "sms", "Northwind", "", "Hello"),
            by=by(w.south_admin),
        ),
    ),
    "other-clients-admin-changes-settings": (
        PermissionDenied,
        lambda w: actions.update_client_settings(
            w.tenant,
            by=by(w.south_admin),
            password_reset_enabled=True,
            remember_device_enabled=False,
        ),
    ),
    "create-client-name-taken-case-differs": (
        ValidationError,
        lambda w: actions.create_client("NORTHWIND", "25.4", "FI", by=OPERATOR),
    ),
}


@pytest.mark.parametrize(("error", "write"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal_leaves_the_database_as_it_was(
    world: World,
    db_state: Callable[[], State],
    error: type[Exception],
    write: Callable[[World], object],
) -> None:
    before = db_state()
    with pytest.raises(error):
        write(world)
    assert db_state() == before


# --- audit events --------------------------------------------------------------------------

NEW_EMAIL = "aki.new@example.org"
NEW_PHONE = "+358409990011"


@dataclass
class Audited:
    write: Callable[[World], object]
    events: list[tuple[str, dict[str, Any]]]  # action, and what its detail holds


AUDIT_TABLE = {
    "mfa-to-email": Audited(
        lambda w: actions.change_mfa_method(w.agent, "email", by=by(w.admin)),
        [
            (
                "user.mfa_changed",
                {"before": "off", "after": "email", "destination": AKI_COM},
            )
        ],
    ),
    "mfa-to-sms": Audited(
        lambda w: actions.change_mfa_method(w.agent, "sms", by=by(w.admin)),
        [
            (
                "user.mfa_changed",
                {"after": "sms", "destination": contact.mask_phone("+358401234567")},
            )
        ],
    ),
    "mfa-off": Audited(
        lambda w: actions.change_mfa_method(w.texter, "off", by=by(w.admin)),
        [("user.mfa_changed", {"before": "sms", "after": "off", "destination": ""})],
    ),
    "email-changed": Audited(
        lambda w: actions.update_user(w.agent, edited(w.agent, email=NEW_EMAIL), by=by(w.admin)),
        [
            (
                "user.contact_changed",
                {"email": {"before": AKI_COM, "after": AKI_ORG}},
            )
        ],
    ),
    "work-phone-changed": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, work_phone="040 999 0011"), by=by(w.admin)
        ),
        [
            (
                "user.contact_changed",
                {
                    "work_phone": {
                        "before": contact.mask_phone("+358401234567"),
                        "after": contact.mask_phone(NEW_PHONE),
                    }
                },
            )
        ],
    ),
    "email-and-mfa-together": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, email=NEW_EMAIL, mfa_method="email"), by=by(w.admin)
        ),
        [
            ("user.mfa_changed", {"destination": AKI_ORG}),
            ("user.contact_changed", {"email": {"before": AKI_COM, "after": AKI_ORG}}),
        ],
    ),
    "deactivated": Audited(
        lambda w: actions.set_user_active(w.agent, False, by=by(w.admin)),
        [("user.deactivated", {})],
    ),
    "level-and-name": Audited(
        lambda w: actions.update_user(
            w.agent, edited(w.agent, level="team_leader", full_name="Aki Lead"), by=by(w.admin)
        ),
        [("user.details_changed", {"fields": ["full_name", "level"], "level": "team_leader"})],
    ),
    "temporary-password": Audited(
        lambda w: actions.set_password(
            w.agent, "brand new temporary words", by=by(w.admin), temporary=True
        ),
        [("user.password_set", {})],
    ),
    "nothing-changed": Audited(
        lambda w: actions.update_user(w.agent, edited(w.agent), by=by(w.admin)),
        [],
    ),
}


def _texts(events: list[AuditEvent]) -> str:
    return json.dumps(
        [[e.summary, e.actor_label, e.subject_label, e.detail] for e in events], ensure_ascii=False
    )


def _assert_nothing_secret(text: str, *phones: str, emails: tuple[str, ...] = ()) -> None:
    for phone in phones:
        national = phone[4:]  # after +358
        assert phone not in text and phone.lstrip("+") not in text
        assert national not in text and "0" + national not in text
        assert contact.format_phone(phone) not in text
    for email in emails:
        assert email not in text
    for password in (PASSWORD, "brand new temporary words"):
        assert password not in text


@pytest.mark.parametrize("case", AUDIT_TABLE.values(), ids=AUDIT_TABLE.keys())
def test_every_change_writes_its_audit_event(world: World, case: Audited) -> None:
    start = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    case.write(world)
    events = list(AuditEvent.objects.filter(pk__gt=start).order_by("pk"))
    assert [e.action for e in events] == [action for action, _ in case.events]
    for event, (_, detail) in zip(events, case.events, strict=True):
        assert event.client == world.tenant
        assert event.actor == world.admin and event.actor_label == world.admin.label
        assert event.subject_id == world.agent.pk or event.subject_id == world.texter.pk
        assert event.ip == IP
        assert event.detail["via"] == "web"
        for key, value in detail.items():
            assert event.detail[key] == value, key
    _assert_nothing_secret(
        _texts(events),
        "+358401234567",
        "+358407654321",
        NEW_PHONE,
        emails=("aki@example.com", NEW_EMAIL, "tea@example.com"),
    )


def test_created_user_audit_masks_destinations(tenant: Client, admin_user: User) -> None:
    saved = actions.create_user(
        tenant,
        _new(email="new.user@example.com", work_phone="040 555 0000", mfa_method="sms"),
        by=by(admin_user),
        password="a perfectly long first secret",
    )
    event = AuditEvent.objects.get(action="user.created", subject=saved.user)
    assert event.actor == admin_user and event.ip == IP
    assert event.detail["email"] == "n\u2022\u2022\u2022\u2022@example.com"
    assert event.detail["work_phone"] == contact.mask_phone("+358405550000")
    assert event.detail["mfa_method"] == "sms" and event.detail["level"] == "agent"
    _assert_nothing_secret(_texts([event]), "+358405550000", emails=("new.user@example.com",))
    assert "a perfectly long first secret" not in _texts([event])


def test_operator_writes_are_attributed_to_the_command_line(tenant: Client) -> None:
    saved = actions.create_user(tenant, _new(), by=OPERATOR)
    event = AuditEvent.objects.get(action="user.created", subject=saved.user)
    assert event.actor is None
    assert event.actor_label == "operator (command line)"
    assert event.detail["via"] == "cli"
    assert AuditEvent.objects.filter(action="client.created", client=tenant).exists()


# --- who may do what -----------------------------------------------------------------------

PERMISSIONS = [
    (actor, verb, target, actor == "admin" or (actor == "manager" and target != "admin"))
    for actor in ("admin", "manager", "team_leader", "agent")
    for verb in ("create", "edit")
    for target in ("admin", "manager", "agent")
]


@pytest.mark.parametrize(
    ("actor_level", "verb", "target_level", "allowed"),
    PERMISSIONS,
    ids=[f"{a}-{v}s-{t}-{'allowed' if ok else 'denied'}" for a, v, t, ok in PERMISSIONS],
)
def test_who_may_create_and_edit_whom(
    user_factory: Callable[..., User],
    tenant: Client,
    db_state: Callable[[], State],
    actor_level: str,
    verb: str,
    target_level: str,
    allowed: bool,
) -> None:
    actor = user_factory(actor_level)
    if verb == "create":

        def write() -> object:
            return actions.create_user(tenant, _new(target_level), by=by(actor))

    else:
        target = user_factory(target_level)

        def write() -> object:
            return actions.update_user(target, edited(target, full_name="Renamed"), by=by(actor))

    if allowed:
        write()
        return
    before = db_state()
    with pytest.raises(PermissionDenied):
        write()
    assert db_state() == before


def test_inactive_admin_may_do_nothing(
    user_factory: Callable[..., User], tenant: Client, db_state: Callable[[], State]
) -> None:
    gone = user_factory("admin", active=False)
    agent = user_factory("agent")
    before = db_state()
    with pytest.raises(PermissionDenied):
        actions.change_mfa_method(agent, "email", by=by(gone))
    with pytest.raises(PermissionDenied):
        actions.create_user(tenant, _new(), by=by(gone))
    assert db_state() == before


def test_users_change_their_own_password(user_factory: Callable[..., User]) -> None:
    agent = user_factory("agent", temporary=True)
    actions.set_password(agent, "my own chosen long words", by=by(agent))
    agent.refresh_from_db()
    assert agent.check_password("my own chosen long words")
    assert agent.must_change_password is False
    event = AuditEvent.objects.filter(subject=agent).first()
    assert event is not None and event.action == "user.password_changed"


# --- tenant isolation (R10) ----------------------------------------------------------------

OTHER_CLIENT_WRITES: dict[str, Callable[[World], object]] = {
    "update-user": lambda w: actions.update_user(
        w.south_agent, edited(w.south_agent, full_name="Taken Over"), by=by(w.admin)
    ),
    "change-mfa": lambda w: actions.change_mfa_method(w.south_agent, "email", by=by(w.admin)),
    "deactivate": lambda w: actions.set_user_active(w.south_agent, False, by=by(w.admin)),
    "set-password": lambda w: actions.set_password(
        w.south_agent, "someone elses long password", by=by(w.admin), temporary=True
    ),
    "create-user": lambda w: actions.create_user(w.southwind, _new(), by=by(w.admin)),
    "save-template": lambda w: actions.save_template(
        w.southwind,
        None,
        actions.TemplateInput("Promo", "sms", "Southwind", "", "Hi"),
        by=by(w.admin),
    ),
    "manager-changes-mfa": lambda w: actions.change_mfa_method(
        w.south_agent, "email", by=by(w.manager)
    ),
}


@pytest.mark.parametrize("write", OTHER_CLIENT_WRITES.values(), ids=OTHER_CLIENT_WRITES.keys())
def test_admin_cannot_touch_another_client(
    world: World, db_state: Callable[[], State], write: Callable[[World], object]
) -> None:
    before = db_state()
    with pytest.raises(PermissionDenied):
        write(world)
    assert db_state() == before


def test_another_clients_id_answers_as_a_missing_one(world: World) -> None:
    assert access.get_user_for_admin(world.admin, world.agent.pk) == world.agent
    assert access.get_user_for_admin(world.admin, str(world.agent.pk)) == world.agent
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    answers = []
    others = (world.south_agent.pk, str(world.south_admin.pk), missing, "abc", "1 OR 1=1", "9" * 30)
    for user_id in others:
        with pytest.raises(Http404) as caught:
            access.get_user_for_admin(world.admin, user_id)
        answers.append(str(caught.value))
    assert len(set(answers)) == 1, answers


@pytest.mark.parametrize(
    ("level", "sees"),
    [("admin", True), ("manager", True), ("team_leader", False), ("agent", False)],
    ids=["admin", "manager", "team-leader", "agent"],
)
def test_only_admins_and_managers_reach_users(world: World, level: str, sees: bool) -> None:
    viewer = {
        "admin": world.admin,
        "manager": world.manager,
        "team_leader": world.team_leader,
        "agent": world.agent,
    }[level]
    visible = set(access.users_for_admin(viewer))
    own = set(User.objects.filter(client=world.tenant))
    assert visible == (own if sees else set())
    if not sees:
        with pytest.raises(Http404):
            access.get_user_for_admin(viewer, world.texter.pk)


def test_templates_and_audit_are_scoped_to_the_client(world: World) -> None:
    own, _ = actions.save_template(
        world.tenant,
        None,
        actions.TemplateInput("Promo", "sms", "Northwind", "", "Hi"),
        by=by(world.admin),
    )
    theirs, _ = actions.save_template(
        world.southwind,
        None,
        actions.TemplateInput("Promo", "sms", "Southwind", "", "Hi"),
        by=by(world.south_admin),
    )
    assert list(access.templates_for_admin(world.admin)) == [own]
    assert access.get_template_for_admin(world.admin, own.pk) == own
    with pytest.raises(Http404):
        access.get_template_for_admin(world.admin, theirs.pk)
    trail = access.audit_for_admin(world.admin)
    assert trail.exists()
    assert set(trail.values_list("client_id", flat=True)) == {world.tenant.pk}
    assert not access.audit_for_admin(world.agent).exists()


# --- bulk (R8) -----------------------------------------------------------------------------


def test_bulk_says_per_user_what_was_applied_and_why_not(
    world: World, user_factory: Callable[..., User]
) -> None:
    mobile = user_factory("agent", username="mo.bile", work_phone="+358402000001")
    landline = user_factory("agent", username="land.line", work_phone="+35891234567")
    no_phone = user_factory("agent", username="no.phone", work_phone="")
    sharer_a = user_factory("agent", username="share.a", work_phone="+358402000002")
    sharer_b = user_factory("agent", username="share.b", work_phone="040 200 0002")
    chosen = [mobile, world.texter, landline, no_phone, sharer_a, sharer_b, world.south_agent]
    south_before = User.objects.filter(pk=world.south_agent.pk).values().get()

    outcomes = actions.bulk_change_mfa_method(world.tenant, chosen, "sms", by=by(world.admin))

    got = {o.user.username: (o.applied, o.reason) for o in outcomes}
    assert [o.user.username for o in outcomes] == [u.username for u in chosen[:-1]]
    assert got["mo.bile"] == (True, "MFA set to SMS.")
    assert got["tea.texter"] == (True, "Already SMS.")
    assert got["land.line"][0] is False and "not a mobile number" in got["land.line"][1]
    assert got["no.phone"][0] is False and "fill in a mobile number" in got["no.phone"][1]
    assert got["share.a"][0] is False and sharer_b.label in got["share.a"][1]
    assert got["share.b"][0] is False and sharer_a.label in got["share.b"][1]
    methods = dict(User.objects.filter(client=world.tenant).values_list("username", "mfa_method"))
    assert methods["mo.bile"] == "sms" and methods["tea.texter"] == "sms"
    for refused in ("land.line", "no.phone", "share.a", "share.b"):
        assert methods[refused] == "off"
    assert User.objects.filter(pk=world.south_agent.pk).values().get() == south_before
    summary = AuditEvent.objects.filter(action="user.bulk_mfa").get()
    assert summary.detail["applied"] == 2 and summary.detail["refused"] == 4
    assert summary.client == world.tenant and summary.actor == world.admin


def test_bulk_by_a_manager_refuses_admins(world: World) -> None:
    outcomes = actions.bulk_change_mfa_method(
        world.tenant, [world.admin, world.agent], "email", by=by(world.manager)
    )
    assert [(o.user, o.applied) for o in outcomes] == [(world.admin, False), (world.agent, True)]
    assert "Only an admin" in outcomes[0].reason
    world.admin.refresh_from_db()
    assert world.admin.mfa_method == "off"


# --- sessions, factor state ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["set_user_active", "update_user"])
def test_deactivation_ends_the_users_sessions(
    world: World, admin_http: HttpClient, how: str
) -> None:
    phones = [HttpClient(), HttpClient()]
    for http in phones:
        assert sign_in(http, world.agent).status_code == 302
        assert http.session["_auth_user_id"] == str(world.agent.pk)
    keys = set(UserSession.objects.filter(user=world.agent).values_list("session_key", flat=True))
    assert len(keys) == 2
    assert Session.objects.filter(session_key__in=keys).count() == 2
    admin_keys = set(UserSession.objects.filter(user=world.admin).values_list("pk", flat=True))

    if how == "set_user_active":
        actions.set_user_active(world.agent, False, by=by(world.admin))
    else:
        actions.update_user(world.agent, edited(world.agent, is_active=False), by=by(world.admin))

    assert not UserSession.objects.filter(user=world.agent).exists()
    assert not Session.objects.filter(session_key__in=keys).exists()
    for http in phones:
        response = http.get("/")
        assert response.status_code == 302 and "/signin/" in response["Location"]
    # Nobody else was signed out.
    assert set(UserSession.objects.filter(user=world.admin).values_list("pk", flat=True)) == (
        admin_keys
    )
    assert admin_http.get("/users/").status_code == 200


def test_end_sessions_counts(world: World) -> None:
    http = HttpClient()
    sign_in(http, world.agent)
    assert actions.end_sessions(world.agent) == 1
    assert actions.end_sessions(world.agent) == 0


@pytest.mark.parametrize(
    "change",
    [{"mfa_method": "email"}, {"email": NEW_EMAIL}, {"work_phone": NEW_PHONE}],
    ids=["method", "email", "work-phone"],
)
def test_changed_factor_voids_pending_sign_ins(world: World, change: dict[str, str]) -> None:
    now = timezone.now()
    PendingSignIn.objects.create(
        token="t" * 40, user=world.agent, created_at=now, expires_at=now + timedelta(minutes=10)
    )
    actions.update_user(world.agent, edited(world.agent, **change), by=by(world.admin))
    assert not PendingSignIn.objects.filter(user=world.agent).exists()


# --- fields every user needs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "needs_email"),
    [("admin", False), ("manager", True), ("team_leader", True), ("agent", False)],
    ids=["admin", "manager", "team-leader", "agent"],
)
def test_managers_and_team_leaders_need_an_email(
    tenant: Client, user_factory: Callable[..., User], level: str, needs_email: bool
) -> None:
    data = _new(level, email="")
    if not needs_email:
        actions.create_user(tenant, data, by=OPERATOR)
        return
    with pytest.raises(ValidationError) as caught:
        actions.create_user(tenant, data, by=OPERATOR)
    assert caught.value.message_dict["email"][0].startswith("Email is mandatory for a ")
    # ... and it cannot be removed later either.
    user = user_factory(level)
    with pytest.raises(ValidationError):
        actions.update_user(user, edited(user, email=""), by=OPERATOR)
    user.refresh_from_db()
    assert user.email


@pytest.mark.parametrize(
    ("taken", "wanted", "other_client"),
    [
        ("Anna", "anna", False),
        ("anna", "ANNA", True),
        ("anna.b@x", "Anna.B@X", True),
    ],
    ids=["same-client-case-differs", "other-client-case-differs", "email-like-name"],
)
def test_user_names_unique_across_clients_case_insensitively(
    tenant: Client,
    tenant_factory: Callable[..., Client],
    user_factory: Callable[..., User],
    taken: str,
    wanted: str,
    other_client: bool,
) -> None:
    user_factory(username=taken, email="taken@example.com")
    client = tenant_factory() if other_client else tenant
    with pytest.raises(ValidationError) as caught:
        actions.create_user(client, _new(username=wanted), by=OPERATOR)
    assert "unique across the platform" in caught.value.message_dict["username"][0]
    somebody = user_factory(client=client, username="somebody")
    with pytest.raises(ValidationError):
        actions.update_user(somebody, edited(somebody, username=wanted), by=OPERATOR)


def test_renaming_a_user_in_case_only_is_allowed(user_factory: Callable[..., User]) -> None:
    user = user_factory(username="anna.b")
    actions.update_user(user, edited(user, username="Anna.B"), by=OPERATOR)
    user.refresh_from_db()
    assert user.username == "Anna.B"


@pytest.mark.parametrize(
    ("mfa", "password", "accepted"),
    [
        ("sms", "eight ok", True),
        ("off", "eight ok", False),
        ("off", "fifteen chars ok", True),
        ("sms", "seven c", False),
        ("off", "northwind is my company", False),
        ("off", "password", False),
    ],
    ids=[
        "8-with-mfa",
        "8-without-mfa",
        "15-without-mfa",
        "7-with-mfa",
        "company-name",
        "common",
    ],
)
def test_first_password_follows_the_rules(
    tenant: Client, mfa: str, password: str, accepted: bool
) -> None:
    data = _new(mfa_method=mfa)
    if not accepted:
        with pytest.raises(ValidationError) as caught:
            actions.create_user(tenant, data, by=OPERATOR, password=password)
        assert list(caught.value.message_dict) == ["password"]
        assert not User.objects.filter(username="new.user").exists()
        return
    user = actions.create_user(tenant, data, by=OPERATOR, password=password).user
    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert password not in user.password
    assert user.check_password(password)
    assert user.must_change_password is True  # the first password is temporary


@pytest.mark.parametrize(
    ("name", "release", "country", "fields"),
    [
        ("", "25.4", "FI", ["name"]),
        ("northwind", "25.4", "FI", ["name"]),
        ("Eastwind", "25", "FI", ["release"]),
        ("Eastwind", "v25.4", "FI", ["release"]),
        ("Eastwind", "25.4.1", "FI", ["release"]),
        ("Eastwind", "25.4", "XX", ["country"]),
        ("Eastwind", "25.4", "", ["country"]),
        ("", "", "", ["country", "name", "release"]),
    ],
    ids=[
        "no-name",
        "name-taken-case-differs",
        "release-major-only",
        "release-prefixed",
        "release-three-parts",
        "unknown-country",
        "no-country",
        "all-wrong",
    ],
)
def test_create_client_refusals(
    tenant: Client,
    db_state: Callable[[], State],
    name: str,
    release: str,
    country: str,
    fields: list[str],
) -> None:
    before = db_state()
    with pytest.raises(ValidationError) as caught:
        actions.create_client(name, release, country, by=OPERATOR)
    assert sorted(caught.value.message_dict) == fields
    assert db_state() == before


def test_create_client_normalises(db: None) -> None:
    client = actions.create_client("  Eastwind ", " 26.1 ", "se", by=OPERATOR)
    client.refresh_from_db()
    assert (client.name, client.release, client.default_country) == ("Eastwind", "26.1", "SE")


# --- writes keep what they do not change ---------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        lambda user: actions.change_mfa_method(user, "email", by=OPERATOR),
        lambda user: actions.set_user_active(user, False, by=OPERATOR),
    ],
    ids=["change_mfa_method", "set_user_active"],
)
def test_one_field_writes_keep_fields_changed_meanwhile(
    user_factory: Callable[..., User], write: Callable[[User], object]
) -> None:
    user = user_factory("agent", email="before@example.com")
    loaded_earlier = User.objects.get(pk=user.pk)
    actions.update_user(user, edited(user, email="after@example.com"), by=OPERATOR)
    write(loaded_earlier)
    user.refresh_from_db()
    assert user.email == "after@example.com"


def test_permission_is_checked_against_the_stored_level(world: World) -> None:
    # The manager opened the agent's form; meanwhile an admin made the agent an admin.
    seen_by_manager = User.objects.get(pk=world.agent.pk)
    actions.update_user(world.agent, edited(world.agent, level="admin"), by=by(world.admin))
    with pytest.raises(PermissionDenied):
        actions.update_user(
            seen_by_manager, edited(seen_by_manager, full_name="Aki Demoted"), by=by(world.manager)
        )
    world.agent.refresh_from_db()
    assert (world.agent.level, world.agent.full_name) == ("admin", "Aki Agent")


# --- the constraints back the rules up -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [("email", "email", "SHARED@example.com"), ("sms", "work_phone", "+358401111111")],
    ids=["email", "sms"],
)
def test_database_refuses_two_recipients_even_around_the_actions(
    user_factory: Callable[..., User], method: str, field: str, value: str
) -> None:
    first = user_factory("agent", method, **{field: value.lower()})
    second = user_factory("agent")
    with pytest.raises(IntegrityError), transaction.atomic():
        # Deliberately around the actions: the partial unique index must still hold.
        User.objects.filter(pk=second.pk).update(mfa_method=method, **{field: value})
    assert first.mfa_method == method
    assert User.objects.get(pk=second.pk).mfa_method == "off"


def test_templates_are_unique_per_client(world: World) -> None:
    data = actions.TemplateInput("Promo", "sms", "Northwind", "", "Hi")
    actions.save_template(world.tenant, None, data, by=OPERATOR)
    with pytest.raises(ValidationError) as caught:
        actions.save_template(world.tenant, None, data, by=OPERATOR)
    assert "already a template named Promo" in caught.value.message_dict["name"][0]
    actions.save_template(world.southwind, None, data, by=OPERATOR)
    assert MessageTemplate.objects.filter(name="Promo").count() == 2


def test_client_slugs_stay_unique_when_names_slugify_alike(db) -> None:
    from deskgate.accounts.audit import OPERATOR

    names = ["Acme Oy", "Acme-Oy", "ACME OY!", "acme  oy?"]
    slugs = [actions.create_client(n, "25.4", by=OPERATOR).slug for n in names]
    assert slugs == ["acme-oy", "acme-oy-2", "acme-oy-3", "acme-oy-4"]
