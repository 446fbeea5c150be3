"""The argon2id verifications' own CPU, measured inside the server's workers (issue 17).

The storm's "beyond the hash" figure subtracts the hash floor's CPU per verification, which
2 processes measure hashing alone. In the storm the hash shares the cores' caches with the
workers' other threads, PostgreSQL and the load client, and costs more CPU than alone, so
that subtraction leaves part of the hash in "beyond the hash". This module, gunicorn's
configuration for the bench's servers (`gunicorn -c python:bench.hashclock`), wraps each
worker's password hasher: every verification appends its thread's CPU time in nanoseconds
(`time.thread_time_ns`, the verifying thread alone) to a file of that worker under
BENCH_HASH_CLOCK_DIR, and `total` sums them. Product code is not changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

ENV = "BENCH_HASH_CLOCK_DIR"


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, in each worker once the application is loaded."""
    directory = os.environ.get(ENV)
    if directory:
        install(Path(directory))


def install(directory: Path) -> None:
    from deskgate.accounts.hashers import ConfiguredArgon2PasswordHasher

    original = ConfiguredArgon2PasswordHasher.verify
    fd = os.open(directory / f"hash-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def verify(hasher: Any, password: str, encoded: str) -> bool:
        t0 = time.thread_time_ns()
        try:
            return original(hasher, password, encoded)
        finally:
            os.write(fd, b"%d\n" % (time.thread_time_ns() - t0))  # one short append: atomic

    ConfiguredArgon2PasswordHasher.verify = verify  # type: ignore[method-assign,assignment]  # measured


def total(directory: Path) -> float:
    """CPU seconds of every verification logged so far, all workers."""
    ns = 0
    for path in directory.glob("hash-*.log"):
        ns += sum(int(line) for line in path.read_bytes().split())
    return ns / 1e9


def fresh(directory: Path) -> Path:
    """The directory, emptied of earlier runs' files."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("hash-*.log"):
        path.unlink()
    return directory
