"""Who may act on whom (R10's levels), and tenant isolation: no action or access helper
reaches another client's users, templates or audit trail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from deskgate.accounts import access, actions
from deskgate.accounts.models import AuditEvent, Client, User
from tests.accounts.conftest import State, World, by, edited, new_input

# --- who may do what -----------------------------------------------------------------------

PERMISSIONS = [
    # Admins act on everyone of their client, managers on the levels below their own
    # (the permission table, README "Who may do what").
    (actor, verb, target, actor == "admin" or (actor == "manager" and target == "agent"))
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
            return actions.create_user(tenant, new_input(target_level), by=by(actor))

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
        actions.create_user(tenant, new_input(), by=by(gone))
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
    "create-user": lambda w: actions.create_user(w.southwind, new_input(), by=by(w.admin)),
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
    missing = User.objects.latest("pk").pk + 1000
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
