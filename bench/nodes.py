"""Deskgate's real server for the benchmark: gunicorn as `make run` starts it, on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import hashclock, procstat
from bench.browser import Browser

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


class NodeError(RuntimeError):
    pass


class Node:
    """One server ("machine"): a gunicorn master and its workers on 127.0.0.1:port."""

    def __init__(
        self, name: str, port: int, workers: int, env: dict[str, str], log: Path, threads: int = 4
    ):
        self.name = name
        self.port = port
        self.workers = workers
        self.threads = threads
        self.env = env
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Node:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        argv = [
            str(GUNICORN),
            "deskgate.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            # As `make run`: threads, so a slow mail server holds a thread, not a worker.
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--forwarded-allow-ips",
            "",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ]
        if self.env.get(hashclock.ENV):
            argv += ["--config", "python:bench.hashclock"]  # the hash's own CPU, measured
        # Its own session: stopping it (and only it) never touches the benchmark's group.
        self.proc = subprocess.Popen(  # noqa: S603  # our venv's gunicorn, fixed arguments
            argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise NodeError(
                    f"gunicorn {self.name} exited ({self.proc.returncode}):\n{self.tail()}"
                )
            with contextlib.suppress(OSError):
                if Browser(timeout=5, keep_alive=False).get(self.base, "/signin/").status == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise NodeError(
                    f"gunicorn {self.name} not ready in {timeout:.0f} s:\n{self.tail()}"
                )
            time.sleep(0.1)
        # Every worker up (the master answers through whichever is ready first).
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        return [s.pid for s in procstat.descendants(self.proc.pid) if s.pid != self.proc.pid]

    def cpu(self) -> float:
        """CPU seconds used so far by the master and its workers (ended workers included)."""
        return procstat.tree_cpu([self.proc.pid]) if self.proc is not None else 0.0

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of the workers
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group we created for it, by id
            proc.wait(timeout=5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
