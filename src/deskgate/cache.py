"""The Redis cache, made optional: when Redis does not answer, Deskgate works without it.

Nothing Deskgate needs lives only in the cache: sessions are in the database with the
cache in front (`deskgate.sessions`), every limit and counter is in the database, and the
rest (SSO discovery documents and keys) can be fetched again. So a cache error is not the
request's failure: a read answers "not cached", a write is skipped, and one warning in the
log says Redis is away (and one more when it is back).

Short socket timeouts keep a Redis that hangs from holding a request; after a failure the
cache is not tried again for `RETRY_AFTER` seconds, so an outage costs each request nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds: how long a connect or a reply may take. Redis on the local network answers in
# well under a millisecond; anything near this is an outage.
SOCKET_TIMEOUT = 0.25
# Seconds without trying Redis after it failed.
RETRY_AFTER = 2.0


class _Health:
    """Whether one Redis answers, shared by the threads of a process (Django gives each
    thread its own cache object, so this cannot live on the object)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0  # monotonic; 0 while Redis answers
        self.warned = False


_health: dict[str, _Health] = {}
_health_lock = threading.Lock()


def _health_of(location: str) -> _Health:
    with _health_lock:
        return _health.setdefault(location, _Health())


class _ReusedClient(RedisCacheClient):
    """Django's client, keeping one `redis.Redis` per connection pool.

    Django builds a new `redis.Redis` for every operation, and its constructor copies some
    two hundred reply callbacks: about 0.1 ms of CPU an operation, several a request (the
    session's read and write among them). A `redis.Redis` is safe to share between threads
    (each command takes a connection from the pool), so one per pool does.
    """

    def __init__(self, servers: Any, **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own helpers, which django-stubs does not list (private).
        django: Any = self
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = django._client(connection_pool=django._get_connection_pool(write))
            self._clients[index] = client
        return client


class ForgivingRedisCache(RedisCache):
    """Django's RedisCache whose operations never raise for an unreachable Redis."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = {
            "socket_connect_timeout": SOCKET_TIMEOUT,
            "socket_timeout": SOCKET_TIMEOUT,
            **params.get("OPTIONS", {}),
        }
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClient
        self._health = _health_of(server)

    def _guard(self, operation: Callable[[], T], fallback: T) -> T:
        health = self._health
        if health.down_until and time.monotonic() < health.down_until:
            return fallback
        try:
            result = operation()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return fallback
        if health.warned:
            with health.lock:
                if health.warned:
                    health.warned = False
                    health.down_until = 0.0
                    log.warning("The cache (Redis) answers again; using it.")
        return result

    def _failed(self, exc: Exception) -> None:
        health = self._health
        with health.lock:
            health.down_until = time.monotonic() + RETRY_AFTER
            if not health.warned:
                health.warned = True
                # The exception's text names host and port, never a password.
                log.warning(
                    "The cache (Redis) does not answer (%s: %s); working without it: "
                    "sessions from the database, nothing else needs it.",
                    type(exc).__name__,
                    exc,
                )

    # Each operation is RedisCache's own, run through the guard with what "not cached" means.
    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._guard(partial(RedisCache.add, self, key, value, timeout, version), False)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guard(partial(RedisCache.get, self, key, default, version), default)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guard(partial(RedisCache.set, self, key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guard(partial(RedisCache.touch, self, key, timeout, version), False)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guard(partial(RedisCache.delete, self, key, version), False)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._guard(partial(RedisCache.get_many, self, keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guard(partial(RedisCache.has_key, self, key, version), False)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._guard(partial(RedisCache.set_many, self, data, timeout, version), list(data))

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guard(partial(RedisCache.delete_many, self, keys, version), None)

    def clear(self) -> None:
        self._guard(partial(RedisCache.clear, self), None)
