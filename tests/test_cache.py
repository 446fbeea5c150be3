"""The cache backend in front of Redis (deskgate.cache): an outage is a cache miss, not an error."""

from __future__ import annotations

import logging
import time

import pytest

from deskgate import cache as deskgate_cache
from deskgate.cache import ForgivingRedisCache
from tests.harness.net import LOOPBACK, free_port
from tests.harness.redis import RedisServer
from tests.harness.smtp import SlowSmtpServer


def _cache(url: str) -> ForgivingRedisCache:
    return ForgivingRedisCache(url, {"KEY_PREFIX": "t"})


def test_it_caches_while_redis_answers_and_misses_while_it_is_away(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deskgate_cache, "RETRY_AFTER", 0.0)  # try Redis on every call here
    cache = _cache(redis_server.url)
    cache.set("k", {"a": 1})
    assert cache.get("k") == {"a": 1} and "k" in cache

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="deskgate.cache"):
        assert cache.get("k") is None
        assert cache.get("k", "fallback") == "fallback"
        cache.set("k", {"a": 2})  # skipped, no exception
        assert cache.delete("k") is False
        assert "k" not in cache
        assert cache.get_many(["k"]) == {}
        assert cache.add("k", 1) is False
    warnings = [r for r in caplog.records if r.name == "deskgate.cache"]
    assert len(warnings) == 1 and "does not answer" in warnings[0].getMessage()

    redis_server.start()  # empty again, as after a restart
    assert cache.get("k") is None
    cache.set("k", {"a": 3})
    assert cache.get("k") == {"a": 3}


def test_a_redis_that_never_answers_does_not_hold_the_request(monkeypatch) -> None:
    monkeypatch.setattr(deskgate_cache, "RETRY_AFTER", 60.0)
    with SlowSmtpServer() as black_hole:  # accepts the connection, never answers
        cache = _cache(f"redis://{LOOPBACK}:{black_hole.port}/0")
        started = time.monotonic()
        assert cache.get("k") is None
        first = time.monotonic() - started
        # After one timeout the cache is not tried again for a while: no wait at all.
        started = time.monotonic()
        for _ in range(20):
            assert cache.get("k") is None
        rest = time.monotonic() - started
    assert first < 1.5, first
    assert rest < 0.1, rest


def test_a_refused_connection_is_a_miss(monkeypatch) -> None:
    monkeypatch.setattr(deskgate_cache, "RETRY_AFTER", 0.0)
    cache = _cache(f"redis://{LOOPBACK}:{free_port()}/0")
    assert cache.get("k", 7) == 7
    cache.set("k", 1)
    assert cache.get("k") is None
