"""The bulk MFA action (R8): per user, what was applied or refused and why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied

from deskgate.accounts import actions
from deskgate.accounts.models import AuditEvent, User
from tests.accounts.conftest import World, by

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


def test_bulk_by_a_manager_is_refused_whole(world: World) -> None:
    """Managers change no MFA settings, for one user or many (the permission table)."""
    for dry_run in (True, False):
        with pytest.raises(PermissionDenied, match="Only an admin can change MFA settings"):
            actions.bulk_change_mfa_method(
                world.tenant, [world.agent], "email", by=by(world.manager), dry_run=dry_run
            )
    world.agent.refresh_from_db()
    assert world.agent.mfa_method == "off"
