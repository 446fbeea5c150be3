"""Sending after the response: one background thread per process drains a durable queue.

The work itself lives in database rows committed by the request (so a second process, or
this one after a restart, can take it over); the thread only makes the sending prompt.
A web request that queues work calls `kick()` once its transaction commits; the thread
starts (or wakes) when the response has been handed to the client (`request_finished`),
so the mail server's speed never shows in the answer. Outside a request the thread
starts at once.

At most one thread per worker and process: a slow mail server holds one thread, never
the web threads, and never more connections than there are processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

IDLE_CHECK = 60.0  # seconds: the longest the thread sleeps while work is pending elsewhere


class BackgroundWorker:
    """Runs `drain()` on its own thread until drain answers None (nothing left).

    `drain()` processes what is due and answers the seconds until more becomes due (a
    retry, a row claimed by a process that may have died), or None when the queue is empty.
    """

    def __init__(self, name: str, drain: Callable[[], float | None]) -> None:
        self.name = name
        self._drain = drain
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._after_response = threading.local()  # per web thread: kick once it answered
        self._in_request = threading.local()
        request_started.connect(self._request_started)
        request_finished.connect(self._request_finished)

    # --- starting ---------------------------------------------------------------------

    def kick(self) -> None:
        """New work is committed: start the thread after this response (or now)."""
        self._idle.clear()  # busy from now on, even before the thread starts
        if getattr(self._in_request, "active", False):
            self._after_response.pending = True
        else:
            self.wake()

    def wake(self) -> None:
        with self._lock:
            self._idle.clear()
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _request_started(self, **kwargs: object) -> None:
        self._in_request.active = True
        self._after_response.pending = False

    def _request_finished(self, **kwargs: object) -> None:
        self._in_request.active = False
        if getattr(self._after_response, "pending", False):
            self._after_response.pending = False
            self.wake()

    # --- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                close_old_connections()
                delay = self._drain()
            except Exception:  # a bug or a database hiccup must not end the thread silently
                log.exception("%s: draining the queue failed; trying again shortly", self.name)
                delay = IDLE_CHECK
            finally:
                # Hold no database connection while idle (a test database must be droppable,
                # and PostgreSQL's connections are few).
                connections.close_all()
            with self._lock:
                if delay is None and not self._wake.is_set():
                    self._thread = None
                    self._idle.set()
                    return
            if delay is not None:
                self._wake.wait(min(max(delay, 0.0), IDLE_CHECK))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the thread has drained the queue and stopped (tests, shutdown)."""
        return self._idle.wait(timeout)
