"""Sessions in the database, one statement per write (see the package's docstring)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY as AUTH_USER
from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils.crypto import get_random_string

from deskgate import rows


class SessionStore(django_db.SessionStore):
    # A key drawn by cycle_key() whose row the next save() writes.
    _insert_pending = False
    # The key whose row that save() moves to the new key (None: it inserts a row).
    _replaces: str | None = None
    # What `save_now()` wrote (the key and the serialised data): the response's save writes
    # nothing while the session is still that.
    _saved: tuple[str, bytes] | None = None

    def _get_new_session_key(self) -> str:
        # No SELECT to see whether the key is free: 165 random bits, and the INSERT's
        # primary key refuses a taken one (save() draws again).
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        """A new key now; the request's save moves the old row to it with the new data, in
        one UPDATE (issue 17: a DELETE, then an INSERT). Until then the old row holds
        only what it held (never what the request adds): a browser with the old key, a
        fixed one say, gains nothing, and loses it at the save.

        A signed-in session's old row goes at once instead, in the caller's transaction
        (where its record, `UserSession`, moves to the new key): if the response's save
        never came (an error page, a stopped worker), the old key would stay signed in
        with no record that "sign out everywhere" could end. So it fails closed: signed
        out. The sign-in itself (a session not signed in yet) keeps the one UPDATE."""
        data = self._session  # type: ignore[attr-defined]  # Django's, not in django-stubs
        old = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self.modified = True
        if old and not self._insert_pending:  # a drawn key not yet saved has no row
            if AUTH_USER in data:
                self._delete_rows(old, old)
                self._forget_cached(old)
            else:
                self._replaces = old
        self._insert_pending = True

    def _forget_cached(self, session_key: str) -> None:
        """What a cache in front holds under a key whose row moved or went (none here)."""

    def save_now(self) -> None:
        """Save a session under a new key (a new session, or one the sign-in cycled) within
        the caller's transaction: with the sign-in's other writes (on PostgreSQL in the same
        statement, `rows.waiting`), committed with them. The response's save then writes
        nothing unless the request changed the session since.

        A session under a key the browser already holds is left to the response's save,
        after the commit, as before: its save may fail (the row ended meanwhile), and that
        must not roll back what the transaction counted (a wrong code's failure). Should
        the transaction roll back after a save here, the error reaches the response (a
        5xx): Django's SessionMiddleware then saves nothing and sets no cookie, so the new
        key is never handed out (with a cache in front, its copy there, under a key nobody
        holds, expires unused)."""
        if self.session_key is not None and not self._insert_pending:
            return
        self.save()
        self._saved = self._written()

    def _written(self) -> tuple[str, bytes]:
        data = self._session  # type: ignore[attr-defined]  # Django's, not in django-stubs
        return (self.session_key or "", self.serializer().dumps(data))

    def _nothing_new(self) -> bool:
        """Saved by `save_now` and unchanged since (the same key, the same data)."""
        if self._saved is None or self._insert_pending:
            return False
        return self._saved == self._written()

    def save(self, must_create: bool = False) -> None:
        if not must_create and self._nothing_new():
            return
        if self.session_key is None:
            # A new session: its key drawn here and its row inserted below (Django's
            # `create()` saves through the whole store again: with a cache in front, the
            # data went to the cache twice).
            self._session_key = self._get_new_session_key()
            self._insert_pending = True
        insert = must_create or self._insert_pending
        data = self._get_session(no_load=insert)  # type: ignore[attr-defined]  # as above
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        # One statement, its own transaction (autocommit). Django's store wraps it in BEGIN
        # and COMMIT (a savepoint within a transaction) to draw again after a taken key, a
        # 2**-165 chance: here that is done outside a transaction; within one the request
        # fails instead.
        # A fixed statement (deskgate.rows), without the ORM's compiler (issue 17).
        try:
            if insert and self._replaces and rows.waits(using):
                # In one statement with the transaction's other writes (`save_now`): the
                # old row goes and the new one comes, as the UPDATE below moves it.
                self._delete_rows(self._replaces, self._replaces, later=True)
                rows.insert(obj, using=using, later=True)
            elif insert:
                if not (self._replaces and self._move(obj, using)):
                    rows.insert(obj, using=using, later=True)
            elif not rows.update(obj, ["session_data", "expire_date"], using=using):
                raise UpdateError  # the row is gone (ended by another request)
        except IntegrityError:
            if not insert:
                raise
            if not self._insert_pending:
                raise CreateError from None  # create() draws another key
            self._session_key = self._get_new_session_key()  # 2**-165: draw again
            return self.save()
        except DatabaseError:
            if not insert:
                raise UpdateError from None
            raise
        if self._replaces:
            # Moved, or gone before (ended by another request): either way nothing may be
            # left in a cache in front under the old key. Again once the move commits: a
            # request with the old key that read its row before then may have put it back.
            old = self._replaces
            self._forget_cached(old)
            if connections[using].in_atomic_block:
                transaction.on_commit(lambda: self._forget_cached(old), using=using)
        self._insert_pending = False
        self._replaces = None
        return None

    def _move(self, obj: Any, using: str) -> bool:
        """The cycled-out row under the new key with the new data; False when it is gone."""
        model: Any = self.model
        connection = connections[using]
        expire = model._meta.get_field("expire_date").get_db_prep_value(obj.expire_date, connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {model._meta.db_table} SET session_key = %s, session_data = %s,"  # noqa: S608  # our table
                " expire_date = %s WHERE session_key = %s",
                [obj.session_key, obj.session_data, expire, self._replaces],
            )
            return bool(cursor.rowcount)

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        keys = [session_key, session_key]
        if session_key == self.session_key and self._replaces:
            # Cycled, not yet saved: this session's row is still under the old key.
            keys[1], self._replaces = self._replaces, None
            self._forget_cached(keys[1])
        self._delete_rows(*keys)

    def _delete_rows(self, key: str, other: str, *, later: bool = False) -> None:
        """One DELETE of the rows under these keys (Django's reads the row first, then
        deletes it by its key); `later`: with the transaction's other writes."""
        model: Any = self.model
        rows.write(
            f"DELETE FROM {model._meta.db_table} WHERE session_key IN (%s, %s)",  # noqa: S608  # our table
            [key, other],
            using=router.db_for_write(model),
            later=later,
        )
