"""Every action's refusal leaves the database exactly as it was."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from tests.accounts.conftest import State, World, by, edited, new_input

REFUSALS: dict[str, tuple[type[Exception], Callable[[World], object]]] = {
    "create-invalid-user-name": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, new_input(username="new user"), by=by(w.admin)),
    ),
    "create-user-name-taken-in-another-client": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, new_input(username="SID.South"), by=by(w.admin)),
    ),
    "create-manager-without-email": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, new_input("manager", email=""), by=by(w.admin)),
    ),
    "create-without-full-name": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, new_input(full_name="   "), by=by(w.admin)),
    ),
    "create-with-too-short-password": (
        ValidationError,
        lambda w: actions.create_user(w.tenant, new_input(), by=by(w.admin), password="short"),
    ),
    "create-sms-on-landline": (
        ValidationError,
        lambda w: actions.create_user(
            w.tenant, new_input(work_phone="09 1234567", mfa_method="sms"), by=by(w.admin)
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
        lambda w: actions.create_user(w.tenant, new_input("admin"), by=by(w.manager)),
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
        lambda w: actions.create_user(w.tenant, new_input(), by=by(w.south_admin)),
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
