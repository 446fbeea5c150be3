"""Sessions in the database with the cache (Redis) in front, one statement per write."""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db as django_cached_db

from deskgate.accounts.session_store import db


class SessionStore(django_cached_db.SessionStore, db.SessionStore):
    """Django's cached_db over the store above: reads from the cache, writes both."""

    def save(self, must_create: bool = False) -> None:
        if not must_create and self._nothing_new():
            return  # saved in this request (`save_now`), the cache's copy too
        super().save(must_create)

    def _forget_cached(self, session_key: str) -> None:
        self._cache.delete(self.cache_key_prefix + session_key)  # type: ignore[attr-defined]  # Django's, not in django-stubs
