"""Django's PostgreSQL backend; a kept connection is checked before use only after it has
been idle (issue 17).

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` on a kept connection before the first
statement of every request that uses the database, so that a connection PostgreSQL has
dropped (a restart, a failover, an idle timeout) is replaced instead of failing the
request. At shift start that is a round trip and a statement more on each of a sign-in's
four database requests, and the connection had answered a moment before. Here the check is
left out while the connection answered within `CHECK_AFTER_IDLE` seconds: it answered every
statement of a request that ended that recently. A connection idle for longer is checked
as Django checks it.

What this gives up: a connection that answered a request and is dropped by the server
within the next few seconds fails the first request that uses it (Deskgate answers 503,
"briefly unavailable, try again in a minute"); Django then closes it and the next request
connects anew. Requests that ran while PostgreSQL was away saw errors, so Django checked and
closed their connections at once: after a restart only connections used within the last
seconds before it are not checked.
"""

from __future__ import annotations

from time import monotonic

from django.db.backends.postgresql import base

# A connection that answered a request which ended this many seconds ago is not checked.
CHECK_AFTER_IDLE = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's (set in its __init__ and connect()), not in django-stubs.
    health_check_enabled: bool
    health_check_done: bool
    # When the last request that used this connection ended with every statement answered
    # (monotonic()); never, for a new wrapper.
    _answered_at = float("-inf")

    def close_if_unusable_or_obsolete(self) -> None:
        """At the start and end of every request (Django's signals). At the end of one that
        used the connection (`health_check_done`: Django sets it when the request's first
        statement opened or checked the connection) and saw no error on it, note when."""
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self._answered_at = monotonic()
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self) -> None:
        """Django's check, left out for a connection that answered a moment ago."""
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and monotonic() - self._answered_at < CHECK_AFTER_IDLE
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
