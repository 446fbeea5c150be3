"""The background worker that sends queued mail after the response."""

from __future__ import annotations

import threading

import pytest
from django.core.signals import request_finished, request_started

from deskgate.delivery import worker as worker_module
from deskgate.delivery.worker import BackgroundWorker


class Drain:
    """Answers the given delays in turn (then None), noting the thread it ran on."""

    def __init__(self, *delays: float | None) -> None:
        self.delays = list(delays)
        self.calls = 0
        self.threads: set[str] = set()
        self.started = threading.Event()

    def __call__(self) -> float | None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.started.set()
        return self.delays.pop(0) if self.delays else None


def test_outside_a_request_a_kick_drains_at_once_on_its_own_thread() -> None:
    drain = Drain()
    worker = BackgroundWorker("test-worker", drain)
    worker.kick()
    assert worker.wait_idle(timeout=5)
    assert drain.calls == 1
    assert drain.threads == {"test-worker"}


# Django's own receivers of the request signals close stale database connections: after any
# database test has connected, they touch the database, so this test may use it.
@pytest.mark.django_db
def test_inside_a_request_the_drain_waits_for_the_response() -> None:
    drain = Drain()
    worker = BackgroundWorker("test-worker", drain)
    request_started.send(sender=None)
    worker.kick()
    assert not worker.wait_idle(timeout=0.2)  # busy, but not started
    assert drain.calls == 0
    request_finished.send(sender=None)
    assert worker.wait_idle(timeout=5)
    assert drain.calls == 1


def test_it_runs_again_when_work_becomes_due_and_survives_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_module, "IDLE_CHECK", 0.05)
    calls: list[int] = []

    def drain() -> float | None:
        calls.append(1)
        if len(calls) == 1:
            return 0.01  # a retry is due in a moment
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return None

    worker = BackgroundWorker("test-worker", drain)
    worker.kick()
    assert worker.wait_idle(timeout=5)
    assert len(calls) == 3


def test_one_thread_however_many_kicks() -> None:
    release = threading.Event()
    running: list[str] = []

    def drain() -> float | None:
        running.append(threading.current_thread().name)
        release.wait(5)
        return None

    worker = BackgroundWorker("test-worker", drain)
    for _ in range(10):
        worker.kick()
    assert sum(t.name == "test-worker" for t in threading.enumerate()) == 1
    release.set()
    assert worker.wait_idle(timeout=5)
    assert len(running) <= 2  # the first pass, and one more for kicks that came during it
