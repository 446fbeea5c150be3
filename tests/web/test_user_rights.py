"""Who may do what to whom on the pages under /users/<id>/: every URL, every level against
every level. One permission table in the action layer decides (admins act on everyone of
their client; managers on team leaders and agents, as a help desk: change, unlock, revoke
devices, send a set-up link, never MFA settings; team leaders and agents on no one); a page
that is refused answers 403 and changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts.models import AuditEvent, Invitation, Level, User
from deskgate.signin.models import (
    AuthenticatorApp,
    EnrolmentLink,
    Passkey,
    RememberedDevice,
    SignInGuard,
)
from tests.authenticator import enrol
from tests.pages import controls
from tests.security.conftest import routes
from tests.softkey import enrol_key

LEVELS = [Level.ADMIN, Level.MANAGER, Level.TEAM_LEADER, Level.AGENT]

# Every URL that names a user: its route name, and the requests the matrix makes to it.
USER_URLS = {
    "user_edit": ("GET", "POST"),
    "user_unlock": ("GET", "POST"),
    "user_revoke_devices": ("GET", "POST"),
    "user_reset_authenticator": ("GET", "POST"),
    "user_send_enrolment_link": ("GET", "POST"),
    "user_reset_passkeys": ("GET", "POST"),
    "user_sign_out_everywhere": ("GET", "POST"),
    "user_send_invitation": ("GET", "POST"),
    "user_revoke_invitation": ("GET", "POST"),
}
ACTION_PATHS = {
    "user_unlock": "unlock",
    "user_revoke_devices": "revoke-devices",
    "user_reset_authenticator": "reset-authenticator",
    "user_send_enrolment_link": "enrolment-link",
    "user_reset_passkeys": "reset-passkeys",
    "user_sign_out_everywhere": "sign-out-everywhere",
    "user_send_invitation": "invitation/send",
    "user_revoke_invitation": "invitation/revoke",
}


# What a manager may do to a team leader or an agent (the help desk); the resets of a
# user's factors are MFA settings, an admin's alone.
HELP_DESK = {
    "user_edit",
    "user_unlock",
    "user_revoke_devices",
    "user_send_enrolment_link",
    "user_sign_out_everywhere",
    "user_send_invitation",
}
# Deleting a user ends the matrix's target: its rights (admins only, the same 404 for
# another client's user) are tests/security/test_27_alerts_delete.py and
# tests/web/test_user_delete.py.
OUTSIDE_THE_MATRIX = {"user_delete"}


def may_act(actor: str, target: str, url: str = "user_edit") -> bool:
    """The rule the product states (README, "Who may do what"), written out by hand."""
    if actor == Level.ADMIN:
        return True
    if actor != Level.MANAGER or target in (Level.ADMIN, Level.MANAGER):
        return False
    return url in HELP_DESK


def test_the_matrix_knows_every_url_that_names_a_user() -> None:
    # The REST API's and SCIM's user URLs take a token, not a signed-in page: their rights
    # are tests/api, tests/scim and tests/security/test_20_scim.py, test_21_rest_api.py.
    named = {
        name
        for _route, name, params in routes()
        if "user_id" in params and not name.startswith(("api:", "scim:"))
    }
    assert named - OUTSIDE_THE_MATRIX == set(USER_URLS), (
        "a new URL under /users/<id>/ needs a row in the matrix"
    )


@pytest.fixture
def people(user_factory: Callable[..., User]) -> dict[str, User]:
    """One acting user and one target per level, all of one client."""
    found = {}
    for level in LEVELS:
        found[f"actor:{level}"] = user_factory(level, full_name=f"Acting {level}")
        found[f"target:{level}"] = user_factory(level, full_name=f"Target {level}")
    return found


def _lock_and_remember(user: User) -> None:
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
    if not AuthenticatorApp.objects.filter(user=user).exists():
        enrol(user)
    if not Passkey.objects.filter(user=user).exists():
        enrol_key(user)


def _state(user: User) -> tuple[Any, ...]:
    row = User.objects.filter(pk=user.pk).values().get()
    guard = SignInGuard.objects.filter(user=user).values_list("locked_until", "code_failures")
    devices = RememberedDevice.objects.filter(user=user).count()
    app = AuthenticatorApp.objects.filter(user=user).count()
    links = EnrolmentLink.objects.filter(user=user).count()
    keys = Passkey.objects.filter(user=user).count()
    events = AuditEvent.objects.filter(subject=user).count()
    invitations = list(Invitation.objects.filter(user=user).values_list("id", "voided_at"))
    return (row, list(guard), devices, app, keys, links, events, invitations)


def _edit_form(http: HttpClient, target: User) -> dict[str, str]:
    page = http.get(f"/users/{target.pk}/")
    values = dict(controls(page).values)
    values.pop("password", None)
    return values | {
        "username": target.username,
        "full_name": "Renamed Person",
        "level": target.level,
        "employment": "active",
        "email": target.email,
        "work_phone": target.work_phone,
        "mfa_method": target.mfa_method,
        "password": "",
    }


@pytest.mark.parametrize("target_level", LEVELS)
@pytest.mark.parametrize("actor_level", LEVELS)
def test_every_user_url_as_every_level_on_every_level(
    people: dict[str, User],
    signed_in: Callable[[User], HttpClient],
    actor_level: str,
    target_level: str,
) -> None:
    actor = people[f"actor:{actor_level}"]
    target = people[f"target:{target_level}"]
    http = signed_in(actor)
    allowed = may_act(actor_level, target_level)
    may = {name: may_act(actor_level, target_level, name) for name in USER_URLS}
    opens_admin_pages = actor_level in (Level.ADMIN, Level.MANAGER)

    # GET of the user page: admins and managers see every user of their client; a user
    # they may not change is shown without Save and without the sign-in actions.
    _lock_and_remember(target)
    page = http.get(f"/users/{target.pk}/")
    if not opens_admin_pages:
        assert page.status_code == 403
    else:
        assert page.status_code == 200
        body = page.content.decode()
        assert (">Save</button>" in body) is allowed
        assert (f"/users/{target.pk}/unlock/" in body) is may["user_unlock"]
        assert ("Revoke remembered devices" in body) is may["user_revoke_devices"]
        assert ("Reset authenticator app" in body) is may["user_reset_authenticator"]
        assert ("Reset passkeys" in body) is may["user_reset_passkeys"]
        assert ("Sign out everywhere" in body) is may["user_sign_out_everywhere"]
        if not allowed:
            assert (
                "Only an admin can create or change an admin." in body
                if target_level == Level.ADMIN
                else "A manager acts only on levels below their own" in body
            )

    # GET of the POST-only actions changes nothing, whoever asks.
    for name, action in ACTION_PATHS.items():
        before = _state(target)
        path = f"/users/{target.pk}/{action}/"
        response = http.get(path)
        assert response.status_code == (405 if opens_admin_pages else 403), (name, response)
        assert _state(target) == before

    # POST: Save, Unlock, Revoke remembered devices.
    form = _edit_form(http, target) if opens_admin_pages else {"full_name": "Renamed Person"}
    posts = [
        ("user_edit", f"/users/{target.pk}/", form),
        ("user_unlock", f"/users/{target.pk}/unlock/", {}),
        ("user_revoke_devices", f"/users/{target.pk}/revoke-devices/", {}),
        ("user_reset_authenticator", f"/users/{target.pk}/reset-authenticator/", {}),
        ("user_reset_passkeys", f"/users/{target.pk}/reset-passkeys/", {}),
        ("user_sign_out_everywhere", f"/users/{target.pk}/sign-out-everywhere/", {}),
        # After the resets: the target has no app and no key, so a set-up link may go.
        ("user_send_enrolment_link", f"/users/{target.pk}/enrolment-link/", {}),
        # The target has not chosen a password of their own yet (see below): invitable.
        ("user_send_invitation", f"/users/{target.pk}/invitation/send/", {}),
        ("user_revoke_invitation", f"/users/{target.pk}/invitation/revoke/", {}),
    ]
    assert {name for name, _, _ in posts} == set(USER_URLS)
    User.objects.filter(pk=target.pk).update(must_change_password=True)
    for name, path, data in posts:
        if name == "user_send_enrolment_link":
            # A set-up link goes only to someone without an app or key: where the resets
            # were refused, take them away here.
            AuthenticatorApp.objects.filter(user=target).delete()
            Passkey.objects.filter(user=target).delete()
        before = _state(target)
        response = http.post(path, data)
        if may[name]:
            assert response.status_code == 302, (name, response.content[:2000])
            assert _state(target) != before, name
        else:
            assert response.status_code == 403, (name, response.status_code)
            assert _state(target) == before, name
    target.refresh_from_db()
    assert (target.full_name == "Renamed Person") is allowed
    guard = SignInGuard.objects.get(user=target)
    assert (guard.locked_until is None) is may["user_unlock"]
    assert (RememberedDevice.objects.filter(user=target).exists()) is not may["user_revoke_devices"]


def test_a_manager_reaches_an_admin_through_no_action(
    people: dict[str, User],
) -> None:
    """The actions themselves refuse, whatever page or command calls them."""
    from django.core.exceptions import PermissionDenied

    from deskgate.accounts import actions
    from deskgate.accounts.audit import Actor

    manager, admin = people["actor:manager"], people["target:admin"]
    _lock_and_remember(admin)
    by = Actor(user=manager)
    before = _state(admin)
    for act in (
        lambda: actions.unlock_user(admin, by=by),
        lambda: actions.revoke_devices(admin, by=by),
        lambda: actions.set_user_active(admin, False, by=by),
        lambda: actions.set_password(admin, "a brand new passphrase 9", by=by, temporary=True),
    ):
        with pytest.raises(PermissionDenied, match="Only an admin can create or change an admin."):
            act()
    with pytest.raises(PermissionDenied, match="Only an admin can change MFA settings"):
        actions.change_mfa_method(admin, "email", by=by)
    assert _state(admin) == before


def test_an_inactive_admin_changes_no_settings(
    tenant: Any, user_factory: Callable[..., User]
) -> None:
    """The SSO settings asked a check of their own that forgot `is_active`; now the same one."""
    from django.core.exceptions import PermissionDenied

    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR, Actor
    from deskgate.sso import flows

    user_factory("admin", full_name="Still Admin")
    gone = user_factory("admin", full_name="Gone Admin")
    actions.set_user_active(gone, False, by=OPERATOR)
    gone.refresh_from_db()
    by = Actor(user=gone)
    sso = flows.SsoInput("https://idp.example", "deskgate", "secret", True, False)
    with pytest.raises(PermissionDenied, match="Only an admin can change the company's settings"):
        flows.configure(tenant, sso, by=by)
    with pytest.raises(PermissionDenied, match="Only an admin can change the company's settings"):
        actions.update_client_settings(
            tenant, by=by, password_reset_enabled=True, remember_device_enabled=True
        )
