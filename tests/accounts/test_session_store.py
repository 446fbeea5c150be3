"""The session engines' key rotation (deskgate/accounts/session_store): the old row moves to
the new key in the request's one save (one UPDATE), and never holds what came after it."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_USER
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import need
from tests.harness.redis import INSTALL_HINT, RedisServer, redis_missing

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["db", "cached_db"])
def store(request: pytest.FixtureRequest, settings: Any) -> Iterator[type]:
    if request.param == "cached_db":
        need(not redis_missing(), INSTALL_HINT)
        with RedisServer() as server:
            settings.CACHES = server.caches()
            yield import_module("deskgate.accounts.session_store.cached_db").SessionStore
        return
    yield import_module("deskgate.accounts.session_store.db").SessionStore


def _saved(store: type, **data: str) -> Any:
    session = store()
    session.update(data)
    session.save()
    return session


def test_a_cycled_key_moves_the_row_in_one_update(store: type) -> None:
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    new = session.session_key
    assert new != old
    session["user"] = "signed in"
    # Until the save, the old row holds only what it held: the new data is not under it.
    assert store(old).load() == {"pending": "before"}
    with CaptureQueriesContext(connection) as writes:
        session.save()
    assert [q["sql"].split(None, 1)[0] for q in writes.captured_queries] == ["UPDATE"]
    assert not store().exists(old)
    assert store(old).load() == {}  # the cache forgot it too (cached_db)
    assert store(new).load() == {"pending": "before", "user": "signed in"}
    assert Session.objects.count() == 1


def test_a_signed_in_sessions_old_row_goes_when_its_key_is_cycled(store: type) -> None:
    """Signing in again in one's own session (an app asked): the old row goes at once, in
    the caller's transaction, not at the response's save. Without that save (an error page,
    a stopped worker) the old key must not stay signed in with no record to end it."""
    session = _saved(store, **{AUTH_USER: "7", "seen": "before"})
    old = session.session_key
    session.cycle_key()
    assert not store().exists(old)
    assert store(old).load() == {}  # nor in the cache (cached_db)
    session["again"] = "yes"
    session.save()
    assert store(session.session_key).load() == {AUTH_USER: "7", "seen": "before", "again": "yes"}
    assert Session.objects.count() == 1


def test_a_session_not_signed_in_keeps_its_row_until_the_save(store: type) -> None:
    """The sign-in itself: the session that only held the attempt keeps its row until the
    response's one UPDATE moves it (if that save never came, the old key holds only the
    attempt's token, whose attempt the sign-in deleted)."""
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    assert store(old).load() == {"pending": "before"}


def test_a_key_cycled_twice_before_its_save_is_one_row(store: type) -> None:
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    session.cycle_key()
    session.save()
    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert store(old).load() == {}


def test_a_cycled_session_whose_row_is_gone_is_inserted(store: type) -> None:
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    store(old).delete()  # ended meanwhile (signed out elsewhere, say)
    session["user"] = "signed in"
    session.save()
    assert store(session.session_key).load() == {"pending": "before", "user": "signed in"}
    assert Session.objects.count() == 1


def test_flushing_a_cycled_session_leaves_no_row(store: type) -> None:
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    session.flush()
    assert not Session.objects.exists()
    assert store(old).load() == {}


def test_a_new_session_cycled_before_its_first_save_is_inserted(store: type) -> None:
    session = store()
    session["pending"] = "before"
    session.cycle_key()
    session.save()
    assert store(session.session_key).load() == {"pending": "before"}
    assert Session.objects.count() == 1


def test_the_settings_use_this_store() -> None:
    assert settings.SESSION_ENGINE.startswith("deskgate.accounts.session_store.")


def test_a_new_session_is_written_once(store: type, monkeypatch: pytest.MonkeyPatch) -> None:
    session = store()
    session["pending"] = "before"
    cached: list[str] = []
    cache = getattr(session, "_cache", None)  # cached_db's cache in front
    if cache is not None:
        real = cache.set

        def counted(key: str, *args: Any, **kwargs: Any) -> Any:
            cached.append(key)
            return real(key, *args, **kwargs)

        monkeypatch.setattr(cache, "set", counted)
    with CaptureQueriesContext(connection) as writes:
        session.save()
    assert [q["sql"].split(None, 1)[0] for q in writes.captured_queries] == ["INSERT"]
    assert len(cached) == (0 if cache is None else 1)
    assert store(session.session_key).load() == {"pending": "before"}


def test_a_session_saved_in_its_transaction_is_not_written_again_unchanged(store: type) -> None:
    """`save_now` (the sign-in's steps): the response's save then writes nothing, unless
    the request changed the session since."""
    session = store()
    session["pending"] = "token"
    with transaction.atomic():
        session.save_now()
    with CaptureQueriesContext(connection) as unchanged:
        session.save()
    assert unchanged.captured_queries == []
    session["pending"] = "another"
    with CaptureQueriesContext(connection) as changed:
        session.save()
    assert [q["sql"].split(None, 1)[0] for q in changed.captured_queries] == ["UPDATE"]
    assert store(session.session_key).load() == {"pending": "another"}


def test_a_cycled_key_saved_with_other_writes_is_one_statement_on_postgresql(
    store: type, user_factory: Any
) -> None:
    """Within `rows.waiting` (PostgreSQL) the old row's DELETE and the new row's INSERT go
    with the block's other writes; elsewhere the row moves in its one UPDATE."""
    from deskgate import rows
    from deskgate.accounts import audit
    from deskgate.accounts.models import AuditAction

    user = user_factory("agent")
    session = _saved(store, pending="before")
    old = session.session_key
    session.cycle_key()
    session["user"] = "signed in"
    with CaptureQueriesContext(connection) as writes, transaction.atomic(), rows.waiting():
        audit.record(AuditAction.SIGNIN_SUCCESS, client=user.client, by=audit.OPERATOR, summary="s")
        session.save_now()
    kinds = [q["sql"].split(None, 1)[0] for q in writes.captured_queries]
    together = connection.vendor == "postgresql"
    assert kinds == (
        ["SAVEPOINT", "WITH", "RELEASE"]
        if together
        else ["SAVEPOINT", "INSERT", "UPDATE", "RELEASE"]
    )
    assert not store().exists(old)
    assert store(session.session_key).load() == {"pending": "before", "user": "signed in"}
    assert Session.objects.count() == 1


def test_a_session_under_a_key_the_browser_holds_is_left_to_the_response(store: type) -> None:
    """`save_now` saves only under a new key: a held key's save may fail (its row ended
    meanwhile), and that must not roll back what the step's transaction counted."""
    session = _saved(store, pending="token")
    session["first send"] = "refused"
    with CaptureQueriesContext(connection) as inside, transaction.atomic():
        session.save_now()
    assert [q["sql"].split(None, 1)[0] for q in inside.captured_queries] == [
        "SAVEPOINT",
        "RELEASE",
    ]
    with CaptureQueriesContext(connection) as response:
        session.save()  # the response's, after the commit
    assert [q["sql"].split(None, 1)[0] for q in response.captured_queries] == ["UPDATE"]


def test_the_old_key_is_forgotten_again_when_its_move_commits(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """With Redis in front: a request with the old key that read its row before the
    transaction committed may have put it back in the cache; the commit forgets it again."""
    need(not redis_missing(), INSTALL_HINT)
    with RedisServer() as server:
        settings.CACHES = server.caches()
        store = import_module("deskgate.accounts.session_store.cached_db").SessionStore
        session = _saved(store, pending="before")
        old = session.session_key
        session.cycle_key()
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            session.save_now()
            session._cache.set(session.cache_key_prefix + old, {"pending": "before"})  # the racer
        assert session._cache.get(session.cache_key_prefix + old) is None
        assert store(old).load() == {}
        assert store(session.session_key).load() == {"pending": "before"}
