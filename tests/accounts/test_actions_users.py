"""The actions on one user: deactivation ends sessions, a changed factor voids sign-ins,
the fields every user needs, first passwords, and writes that keep what they do not change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client as HttpClient
from django.utils import timezone

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User, UserSession
from deskgate.signin.models import PendingSignIn
from tests.accounts.conftest import NEW_EMAIL, NEW_PHONE, World, by, edited, new_input
from tests.conftest import sign_in

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
    data = new_input(level, email="")
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
        actions.create_user(client, new_input(username=wanted), by=OPERATOR)
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
    data = new_input(mfa_method=mfa)
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
