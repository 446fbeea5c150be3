"""A client keeps at least one active admin: nobody, on any path, can deactivate or demote
the last one (they alone open Users for admins and change the company's settings)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR, Actor
from deskgate.accounts.models import Client, Level, User
from tests.accounts.conftest import State
from tests.pages import field_errors

LAST = (
    "Northwind would have no active admin left: Anna Admin (anna.admin) is the last one, and "
    "only an admin can change admins and the company's settings. Make another user an admin "
    "first."
)


def active_admins(client: Client) -> int:
    return User.objects.filter(client=client, level=Level.ADMIN, is_active=True).count()


@pytest.mark.parametrize(
    ("change", "field"),
    [({"is_active": False}, "employment"), ({"level": Level.MANAGER}, "level")],
    ids=["deactivate", "demote"],
)
@pytest.mark.parametrize("by_self", [True, False], ids=["themselves", "operator"])
def test_the_last_admin_stays(
    admin_user: User,
    user_factory: Callable[..., User],
    db_state: Callable[[], State],
    change: dict[str, object],
    field: str,
    by_self: bool,
) -> None:
    user_factory("admin", active=False, full_name="Former Admin")  # inactive: does not count
    user_factory("manager")
    before = db_state()
    data = actions.UserInput.of(admin_user)
    for name, value in change.items():
        setattr(data, name, value)
    by = Actor(user=admin_user) if by_self else OPERATOR
    with pytest.raises(ValidationError) as refused:
        actions.update_user(admin_user, data, by=by)
    assert refused.value.message_dict == {field: [LAST]}
    assert db_state() == before


def test_set_user_active_refuses_the_last_admin_too(
    admin_user: User, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(ValidationError, match="no active admin left"):
        actions.set_user_active(admin_user, False, by=OPERATOR)
    assert db_state() == before


def test_with_another_admin_one_may_step_down(
    admin_user: User, user_factory: Callable[..., User]
) -> None:
    other = user_factory("admin", full_name="Other Admin")
    data = actions.UserInput.of(admin_user)
    data.level = Level.MANAGER
    actions.update_user(admin_user, data, by=Actor(user=admin_user))
    admin_user.refresh_from_db()
    assert admin_user.level == Level.MANAGER
    # ...and then the other is the last one.
    with pytest.raises(ValidationError, match="Other Admin .* is the last one"):
        actions.set_user_active(other, False, by=Actor(user=other))
    assert active_admins(other.client) == 1


def test_a_client_without_an_active_admin_is_not_blocked(
    tenant: Client, user_factory: Callable[..., User]
) -> None:
    """Only a write that takes the last one away is refused; others go ahead as before."""
    dormant = user_factory("admin", active=False)
    agent = user_factory("agent")
    actions.set_user_active(agent, False, by=OPERATOR)
    data = actions.UserInput.of(dormant)
    data.full_name = "Dormant Admin"
    actions.update_user(dormant, data, by=OPERATOR)
    assert active_admins(tenant) == 0


def test_the_user_page_says_why(
    admin_http: HttpClient, admin_user: User, db_state: Callable[[], State]
) -> None:
    page = admin_http.get(f"/users/{admin_user.pk}/")
    assert page.status_code == 200
    before = db_state()
    from tests.pages import controls

    form = dict(controls(page).values) | {"employment": "inactive", "password": ""}
    response = admin_http.post(f"/users/{admin_user.pk}/", form)
    assert response.status_code == 200
    assert field_errors(response, "employment") == [LAST]
    assert db_state() == before
