"""The operator's commands for the rest of a user's and a client's life (issue 16):
update-user, unlock, list-users, set-release and set-client. Each goes through the action
layer, so every rule holds; a refusal exits non-zero with the rule's words and changes
nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.signin.models import SignInGuard
from tests.accounts.conftest import database_state
from tests.accounts.test_cli import run_cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deskgate(capsys):
    return lambda *args: run_cli(capsys, *args)


# --- update-user -----------------------------------------------------------------------------


def test_update_user_changes_only_what_is_given(deskgate, tenant, user_factory) -> None:
    aki = user_factory("agent", "email", username="aki", email="aki@example.com")
    run = deskgate(
        "update-user", "--client", "northwind", "--username", "AKI", "--mfa", "sms",
        "--full-name", "Aki Virtanen",
    )  # fmt: skip
    assert run.code == 0, run.err
    aki.refresh_from_db()
    assert (aki.full_name, aki.mfa_method, aki.email) == ("Aki Virtanen", "sms", "aki@example.com")
    assert "MFA SMS to +358 \u2022\u2022 " in run.out  # masked, never the whole number
    assert aki.work_phone not in run.out
    event = AuditEvent.objects.get(action="user.mfa_changed", subject=aki)
    assert event.actor_label == "operator (command line)"


def test_update_user_refusal_says_the_rule_and_changes_nothing(
    deskgate, tenant, user_factory
) -> None:
    user_factory("agent", "off", username="aki", work_phone="")
    before = database_state()
    run = deskgate("update-user", "--client", "Northwind", "--username", "aki", "--mfa", "sms")
    assert run.code != 0
    assert "refused:" in run.err and "Work phone" in run.err
    assert database_state() == before


def test_update_user_deactivates_and_keeps_the_last_admin(deskgate, tenant, user_factory) -> None:
    user_factory("admin", username="boss")
    agent = user_factory("agent", username="aki")
    assert (
        deskgate("update-user", "--client", "Northwind", "--username", "aki", "--inactive").code
        == 0
    )
    assert not User.objects.get(pk=agent.pk).is_active
    run = deskgate("update-user", "--client", "Northwind", "--username", "boss", "--inactive")
    assert run.code != 0 and "admin" in run.err
    assert User.objects.get(username="boss").is_active


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--client", "Nowhere", "--username", "aki", "--level", "agent"],
            "no client named Nowhere",
        ),
        (
            ["--client", "Northwind", "--username", "nobody", "--level", "agent"],
            "no user named nobody",
        ),
        (["--client", "Northwind", "--username", "aki"], "say what to change"),
    ],
)
def test_update_user_unknown_names_and_no_change(
    deskgate, tenant, user_factory, args, says
) -> None:
    user_factory("agent", username="aki")
    run = deskgate("update-user", *args)
    assert run.code != 0 and says in run.err


# --- unlock ----------------------------------------------------------------------------------


def test_unlock_ends_a_lock_and_says_when_there_was_none(deskgate, tenant, user_factory) -> None:
    aki = user_factory("agent", "email", username="aki")
    SignInGuard.objects.update_or_create(
        user=aki, defaults={"locked_until": timezone.now() + timedelta(minutes=10)}
    )
    run = deskgate("unlock", "--client", "Northwind", "--username", "aki")
    assert run.code == 0 and "Unlocked" in run.out
    assert AuditEvent.objects.filter(action="user.unlocked", subject=aki).count() == 1
    again = deskgate("unlock", "--client", "Northwind", "--username", "aki")
    assert again.code == 0 and "was not locked" in again.out
    assert AuditEvent.objects.filter(action="user.unlocked", subject=aki).count() == 1


# --- list-users ------------------------------------------------------------------------------


def test_list_users_masks_phones_and_speaks_json(
    deskgate, tenant, legacy_tenant, user_factory
) -> None:
    user_factory("agent", "sms", username="aki", full_name="Aki Agent", work_phone="+358401234567")
    user_factory("agent", username="old", client=legacy_tenant)
    table = deskgate("list-users", "--client", "Northwind")
    assert table.code == 0
    assert table.lines[0].split()[:3] == ["Username", "Full", "name"]
    assert "Aki Agent" in table.out and "+358401234567" not in table.out
    assert table.lines[-1] == "1 user in Northwind."
    rows = [
        json.loads(line) for line in deskgate("list-users", "--client", "Northwind", "--json").lines
    ]
    assert [r["username"] for r in rows] == ["aki"]
    assert rows[0]["mfa"] == "sms" and rows[0]["work_phone"].endswith("67")
    assert "1234" not in rows[0]["work_phone"]
    legacy = [
        json.loads(line) for line in deskgate("list-users", "--client", "Legacy", "--json").lines
    ]
    assert legacy[0]["mfa"] == "unavailable"  # R1: no MFA on 11.x


# --- set-release -----------------------------------------------------------------------------


def test_an_upgrade_from_11x_makes_mfa_available(deskgate, legacy_tenant, user_factory) -> None:
    old = user_factory("agent", username="old", client=legacy_tenant)
    refused = deskgate("update-user", "--client", "Legacy", "--username", "old", "--mfa", "email")
    assert refused.code != 0 and "25.x" in refused.err
    run = deskgate("set-release", "--client", "Legacy", "--release", "25.4")
    assert run.code == 0 and "MFA is available" in run.out
    assert (
        deskgate("update-user", "--client", "Legacy", "--username", "old", "--mfa", "email").code
        == 0
    )
    assert User.objects.get(pk=old.pk).mfa_method == "email"
    event = AuditEvent.objects.get(action="client.release_changed")
    assert (event.detail["before"], event.detail["after"]) == ("11.8", "25.4")


def test_a_downgrade_to_11x_turns_every_method_off_and_tells_the_admins(
    deskgate, tenant, user_factory
) -> None:
    admin = user_factory("admin", "email", username="boss", email="boss@example.com")
    agents = [user_factory("agent", m) for m in ("email", "sms", "off")]
    actions.update_client_settings(
        tenant,
        by=Actor(user=admin),
        password_reset_enabled=False,
        remember_device_enabled=True,
        policy=actions.FactorPolicy(("admin",), {"agent": "sms"}, True, 15),
    )
    mail.outbox.clear()
    run = deskgate("set-release", "--client", "Northwind", "--release", "11.8")
    assert run.code == 0 and "3 users' MFA set to Off" in run.out
    assert set(User.objects.filter(client=tenant).values_list("mfa_method", flat=True)) == {"off"}
    turned = AuditEvent.objects.filter(
        action="user.mfa_changed", actor_label="operator (command line)"
    )
    assert {e.subject_id for e in turned} == {admin.pk, agents[0].pk, agents[1].pk}
    client = Client.objects.get(pk=tenant.pk)
    assert (client.strong_factor_levels, client.new_user_mfa, client.passwordless_enabled) == (
        "", {}, False,
    )  # fmt: skip
    told = [m for m in mail.outbox if m.to == ["boss@example.com"]]
    assert len(told) == 1 and "MFA method of 3 users was set to Off" in told[0].body


def test_set_release_refuses_a_bad_release_and_changes_nothing(deskgate, tenant) -> None:
    before = database_state()
    run = deskgate("set-release", "--client", "Northwind", "--release", "twenty-five")
    assert run.code != 0 and "major.minor" in run.err
    assert database_state() == before
    same = deskgate("set-release", "--client", "Northwind", "--release", "25.4")
    assert same.code == 0 and "already on release 25.4" in same.out
    assert database_state() == before


# --- set-client ------------------------------------------------------------------------------


def test_set_client_renames_and_changes_the_country(deskgate, tenant, tenant_factory) -> None:
    tenant_factory("Eastwind")
    run = deskgate(
        "set-client", "--client", "Northwind", "--name", "Northwind Oy", "--country", "se"
    )
    assert run.code == 0, run.err
    client = Client.objects.get(pk=tenant.pk)
    assert (client.name, client.default_country) == ("Northwind Oy", "SE")
    event = AuditEvent.objects.get(action="client.details_changed")
    assert event.detail["changes"]["name"] == {"before": "Northwind", "after": "Northwind Oy"}
    before = database_state()
    taken = deskgate("set-client", "--client", "Northwind Oy", "--name", "EASTWIND")
    assert taken.code != 0 and "already exists" in taken.err
    bad = deskgate("set-client", "--client", "Northwind Oy", "--country", "XX")
    assert bad.code != 0 and "two-letter country code" in bad.err
    assert database_state() == before


def test_only_the_operator_changes_a_client(tenant, user_factory) -> None:
    admin = user_factory("admin")
    with pytest.raises(PermissionDenied):
        actions.change_client(tenant, by=Actor(user=admin), release="11.8")
    with pytest.raises(PermissionDenied):
        actions.change_client(
            tenant, by=Actor(token="t", token_id=1, client_id=tenant.pk), name="X"
        )
    assert Client.objects.get(pk=tenant.pk).release == "25.4"
