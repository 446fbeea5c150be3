"""Fixed statements (deskgate.rows) give the instances the ORM gives, on both databases."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.db import connection, transaction
from django.db.models import Model
from django.utils.functional import SimpleLazyObject

from deskgate import rows
from deskgate.accounts.models import AuditEvent, Client, User
from deskgate.signin.backends import DeskgateBackend
from deskgate.sso.models import ProviderConfig

SHAPE = rows.Shape((User, "u"), (Client, "c"), (ProviderConfig, "s"))
SQL = (
    f"SELECT {SHAPE.columns()} FROM accounts_user u"  # noqa: S608  # the test's own tables
    " JOIN accounts_client c ON c.id = u.client_id"
    f" LEFT JOIN {ProviderConfig._meta.db_table} s ON s.client_id = c.id WHERE u.id = %s"
)


def _fields(instance: Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_row_gives_what_the_orm_gives(user_factory) -> None:
    user = user_factory("admin", "email", work_phone="+358401234567")
    User.objects.filter(pk=user.pk).update(last_login=user.created_at)
    orm = User.objects.select_related("client").get(pk=user.pk)
    found = SHAPE.one(SQL, [user.pk])
    assert found is not None
    fixed, client, sso = found
    assert isinstance(fixed, User) and isinstance(client, Client)
    assert _fields(fixed) == _fields(orm)
    assert _fields(client) == _fields(orm.client)
    assert fixed.last_login is not None and fixed.last_login.tzinfo is not None
    assert sso is None  # a LEFT JOIN's missing row
    assert not fixed._state.adding and fixed._state.db == "default"


def test_no_row_is_none(db) -> None:
    assert SHAPE.one(SQL, [10**9]) is None


def test_the_session_user_comes_with_their_client_in_one_statement(
    user_factory, django_assert_num_queries
) -> None:
    user = user_factory("agent")
    with django_assert_num_queries(1):
        found = DeskgateBackend().get_user(user.pk)
        assert found is not None and found.client.name == user.client.name
    inactive = user_factory("agent", active=False)
    assert DeskgateBackend().get_user(inactive.pk) is None
    assert DeskgateBackend().get_user("junk") is None


def test_an_insert_with_a_chosen_key_and_an_update_write_what_the_orm_writes(
    user_factory,
) -> None:
    from deskgate.accounts.models import UserSession

    user = user_factory("agent")
    record = UserSession(session_key="k" * 32, user=user, amr=["pwd", "mfa"])
    rows.insert(record)  # a chosen primary key; created_at is auto_now_add
    stored = UserSession.objects.get(pk="k" * 32)
    assert record.created_at is not None and _fields(stored) == _fields(record)
    record.amr = ["pwd"]
    assert rows.update(record, ["amr"]) == 1
    assert UserSession.objects.get(pk="k" * 32).amr == ["pwd"]
    # request.user is a lazy object: its model is the user's, not the proxy's type.
    lazy = cast(UserSession, SimpleLazyObject(lambda: record))
    assert rows.update(lazy, ["amr"]) == 1
    record.session_key = "gone"
    assert rows.update(record, ["amr"]) == 0


def _event(user: User) -> AuditEvent:
    return AuditEvent(
        client=user.client,
        at=user.created_at,
        action="signin.failure",
        actor=user,
        actor_label=user.label,
        subject=user,
        subject_label=user.label,
        ip="2001:db8::1",
        summary="a summary",
        detail={"via": "web", "n": 1},
    )


def test_an_insert_saves_what_save_saves(user_factory, django_assert_num_queries) -> None:
    user = user_factory("agent")
    saved = _event(user)
    saved.save()
    with django_assert_num_queries(1):
        inserted = rows.insert(_event(user))
    assert inserted.pk is not None and inserted.pk != saved.pk
    assert not inserted._state.adding and inserted._state.db == "default"
    fields = _fields(AuditEvent.objects.get(pk=inserted.pk))
    expected = _fields(AuditEvent.objects.get(pk=saved.pk))
    assert fields == {**expected, "id": inserted.pk}


# -- writes that wait (`rows.waiting`): one statement on PostgreSQL --------------------------


def _record(user: User, key: str) -> Any:
    from deskgate.accounts.models import UserSession

    return UserSession(session_key=key, user=user, amr=["pwd"])


def test_writes_that_wait_go_together_and_get_their_results_then(
    user_factory, django_assert_num_queries
) -> None:
    from deskgate.accounts.models import UserSession

    user = user_factory("agent")
    record = rows.insert(_record(user, "a" * 32))
    together = connection.vendor == "postgresql"
    # The transaction's SAVEPOINT and RELEASE (this test runs in one), and the writes.
    with django_assert_num_queries(3 if together else 5), transaction.atomic(), rows.waiting():
        event = rows.insert(_event(user), later=True)
        record.amr = ["pwd", "otp"]
        changed = rows.update(record, ["amr"], later=True)
        gone = rows.write(
            "DELETE FROM accounts_usersession WHERE session_key = %s", ["x"], later=True
        )
        # Waiting on PostgreSQL: no key, no count yet; elsewhere each went when made.
        assert (event.pk is None, changed, gone) == (
            (True, None, None) if together else (False, 1, 0)
        )
    assert event.pk is not None and AuditEvent.objects.get(pk=event.pk).summary == "a summary"
    assert UserSession.objects.get(pk="a" * 32).amr == ["pwd", "otp"]


def test_any_other_statement_sends_the_waiting_writes_first(user_factory) -> None:
    user = user_factory("agent")
    with transaction.atomic(), rows.waiting():
        event = rows.insert(_event(user), later=True)
        rows.insert(_record(user, "b" * 32), later=True)
        # The read sees both rows: they went before it.
        assert AuditEvent.objects.filter(subject=user, action="signin.failure").count() == 1
        assert event.pk is not None
        assert (
            rows.write(  # not waiting: its count at once
                "DELETE FROM accounts_usersession WHERE session_key = %s", ["b" * 32]
            )
            == 1
        )


def test_a_write_that_had_to_change_a_row_and_changed_none_loses_its_transaction(
    user_factory,
) -> None:
    user = user_factory("agent")
    with pytest.raises(rows.WriteLost), transaction.atomic(), rows.waiting():
        rows.insert(_event(user), later=True)
        rows.write(
            "DELETE FROM accounts_usersession WHERE session_key = %s",
            ["no such session"],
            later=True,
            must_change=True,
        )
    assert not AuditEvent.objects.filter(
        subject=user, action="signin.failure"
    ).exists()  # rolled back with it


def test_an_error_in_the_block_sends_what_waited_before_it_goes_on(user_factory) -> None:
    """As the writes would have gone, had they not waited: a caller that handles the error
    inside the transaction commits them."""
    user = user_factory("agent")
    with transaction.atomic(), pytest.raises(ValueError), rows.waiting():
        rows.insert(_event(user), later=True)
        raise ValueError("not the database's")
    assert AuditEvent.objects.filter(subject=user, action="signin.failure").count() == 1


def test_an_error_that_lost_the_transaction_drops_what_waited_and_stays_itself(
    user_factory,
) -> None:
    """An error that left an `atomic(savepoint=False)` has marked the transaction for
    rollback: what waited is dropped (sending it would fail), and the error is the one
    raised, not the database's refusal to run more statements."""
    user = user_factory("agent")
    with transaction.atomic():
        with pytest.raises(ValueError), rows.waiting():
            rows.insert(_event(user), later=True)
            with transaction.atomic(savepoint=False):
                raise ValueError("not the database's")
        assert connection.needs_rollback
    assert not AuditEvent.objects.filter(subject=user, action="signin.failure").exists()
