"""Sessions in the database, one statement per write (see the package's docstring)."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router
from django.utils.crypto import get_random_string

from deskgate import rows


class SessionStore(django_db.SessionStore):
    # A key drawn by cycle_key() whose row the next save() inserts.
    _insert_pending = False

    def _get_new_session_key(self) -> str:
        # No SELECT to see whether the key is free: 165 random bits, and the INSERT's
        # primary key refuses a taken one (save() draws again).
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        """A new key now, its row written once by the request's save; the old row gone."""
        data = self._session  # type: ignore[attr-defined]  # Django's, not in django-stubs
        old = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._insert_pending = True
        self.modified = True
        if old:
            self.delete(old)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
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
            if insert:
                rows.insert(obj, using=using)
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
        self._insert_pending = False
        return None

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        model: Any = self.model
        using = router.db_for_write(model)
        # One DELETE (Django's reads the row first, then deletes it by its key).
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE session_key = %s",  # noqa: S608  # our table
                [session_key],
            )
