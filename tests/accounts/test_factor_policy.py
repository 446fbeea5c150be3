"""The factor policy's settings (issue 14) and the MFA method users created later get.

`update_client_settings(policy=...)` checks and saves the levels that must use a strong
factor, the new users' method by level, passwordless sign-in and the step-up minutes, and
audits what changed; `create_user` gives a user whose door chose no method the level's
method from the settings, under every rule (R1..R10).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, User

Policy = actions.FactorPolicy


def save(client: Client, policy: Policy, by: Actor = OPERATOR) -> Client:
    return actions.update_client_settings(
        client,
        by=by,
        password_reset_enabled=False,
        remember_device_enabled=True,
        policy=policy,
    )


def new_agent(client: Client, mfa: str = "", **fields: str) -> User:
    data = actions.UserInput(
        username=fields.get("username", "new.agent"),
        full_name="New Agent",
        level=fields.get("level", "agent"),
        email=fields.get("email", "new.agent@example.com"),
        work_phone=fields.get("work_phone", "+358401112223"),
        mfa_method=mfa,
    )
    return actions.create_user(client, data, by=OPERATOR).user


def test_policy_is_saved_and_audited_with_what_changed(tenant: Client) -> None:
    saved = save(
        tenant,
        Policy(
            strong_factor_levels=("manager", "admin"),
            new_user_mfa={"agent": "sms", "manager": "", "admin": "email"},
            passwordless_enabled=True,
            step_up_minutes=30,
        ),
    )
    assert saved.strong_factor_levels == "admin manager"  # in the levels' order
    assert saved.new_user_mfa == {"agent": "sms", "admin": "email"}  # "keep" is no entry
    assert saved.passwordless_enabled and saved.step_up_minutes == 30
    event = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).latest("id")
    assert event.detail["strong_factor_levels"] == "admin manager"
    assert event.detail["new_user_mfa"] == {"agent": "sms", "admin": "email"}
    assert event.detail["step_up_minutes"] == 30
    assert "factor policy" in event.summary
    # Saving the same again names no policy change.
    save(tenant, Policy.of(saved))
    again = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).latest("id")
    assert "strong_factor_levels" not in again.detail and "factor policy" not in again.summary


@pytest.mark.parametrize(
    ("policy", "field", "words"),
    [
        (Policy(strong_factor_levels=("boss",)), "strong_factor_levels", "Not a level: boss"),
        (Policy(new_user_mfa={"agent": "pigeon"}), "new_user_mfa", "choose Off, Email or SMS"),
        (Policy(new_user_mfa={"intern": "sms"}), "new_user_mfa", "choose Off, Email or SMS"),
        (Policy(step_up_minutes=0), "step_up_minutes", "from 1 to 1440"),
        (Policy(step_up_minutes=1441), "step_up_minutes", "from 1 to 1440"),
    ],
)
def test_bad_values_are_refused_in_words(tenant: Client, policy, field, words) -> None:
    with pytest.raises(ValidationError) as caught:
        save(tenant, policy)
    assert words in " ".join(caught.value.message_dict[field])
    tenant.refresh_from_db()
    assert (tenant.strong_factor_levels, tenant.new_user_mfa) == ("", {})


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (Policy(strong_factor_levels=("admin",)), "strong_factor_levels"),
        (Policy(new_user_mfa={"agent": "sms"}), "new_user_mfa"),
        (Policy(new_user_mfa={"agent": "email"}), "new_user_mfa"),
        (Policy(passwordless_enabled=True), "passwordless_enabled"),
    ],
)
def test_an_11x_client_cannot_have_a_policy_r1(legacy_tenant: Client, policy, field) -> None:
    with pytest.raises(ValidationError) as caught:
        save(legacy_tenant, policy)
    assert "release 25.x or later" in " ".join(caught.value.message_dict[field])
    # Off for new users says nothing MFA needs: allowed.
    save(legacy_tenant, Policy(new_user_mfa={"agent": "off"}, step_up_minutes=20))


@pytest.mark.parametrize("level", ["manager", "team_leader", "agent"])
def test_only_admins_change_the_policy(user_factory, tenant: Client, level: str) -> None:
    actor = user_factory(level, username=f"the.{level}")
    with pytest.raises(PermissionDenied):
        save(tenant, Policy(strong_factor_levels=("admin",)), by=Actor(user=actor))
    tenant.refresh_from_db()
    assert tenant.strong_factor_levels == ""


def test_another_clients_admin_cannot(user_factory, tenant: Client, tenant_factory) -> None:
    elsewhere = user_factory("admin", client=tenant_factory("Elsewhere"))
    with pytest.raises(PermissionDenied):
        save(tenant, Policy(strong_factor_levels=("admin",)), by=Actor(user=elsewhere))


# --- new users' MFA by level -------------------------------------------------------------


def test_new_user_gets_the_levels_method(tenant: Client) -> None:
    save(tenant, Policy(new_user_mfa={"agent": "sms", "admin": "email"}))
    agent = new_agent(tenant)
    assert agent.mfa_method == "sms"
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED, subject=agent)
    assert event.detail["mfa_from_settings"] is True
    assert "with SMS MFA from the settings" in event.summary
    # A level the settings do not name: Off, as before.
    leader = new_agent(
        tenant, username="new.leader", level="team_leader", work_phone="+358401112224"
    )
    assert leader.mfa_method == "off"


def test_an_explicit_choice_wins(tenant: Client) -> None:
    save(tenant, Policy(new_user_mfa={"agent": "sms"}))
    assert new_agent(tenant, "off").mfa_method == "off"
    other = new_agent(tenant, "email", username="b", email="b@x.example", work_phone="")
    assert other.mfa_method == "email"


def test_a_user_who_cannot_take_the_method_is_refused_with_the_rules_words(
    tenant: Client,
) -> None:
    save(tenant, Policy(new_user_mfa={"agent": "sms"}))
    with pytest.raises(ValidationError) as caught:
        new_agent(tenant, work_phone="")
    errors = caught.value.message_dict
    assert errors["mfa_method"][0].startswith("The settings give new agents SMS MFA")
    assert "SMS MFA sends the code to the Work phone field" in errors["work_phone"][0]
    assert not User.objects.filter(username="new.agent").exists()
    # A landline: the rule's own words again.
    with pytest.raises(ValidationError) as caught:
        new_agent(tenant, work_phone="+35891234567")
    assert "is not a mobile number" in caught.value.message_dict["work_phone"][0]
    # Choosing the method explicitly creates the user.
    assert new_agent(tenant, "off", work_phone="").mfa_method == "off"


def test_the_policy_obeys_r4(user_factory, tenant: Client) -> None:
    user_factory("agent", "email", email="shared@example.com")
    save(tenant, Policy(new_user_mfa={"agent": "email"}))
    with pytest.raises(ValidationError) as caught:
        new_agent(tenant, email="shared@example.com")
    assert "A code must reach exactly one person" in caught.value.message_dict["email"][0]


def test_an_11x_client_never_applies_a_method(legacy_tenant: Client) -> None:
    # Stored past the settings' refusal (say, before a release change): still Off (R1).
    Client.objects.filter(pk=legacy_tenant.pk).update(new_user_mfa={"agent": "sms"})
    legacy_tenant.refresh_from_db()
    assert new_agent(legacy_tenant).mfa_method == "off"
