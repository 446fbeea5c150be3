"""The hash floor: argon2id verifications per second, one process per core, nothing else.

No sign-in can beat it: each one verifies one password. Parameters are the product's
(settings.DESKGATE_PASSWORD_HASH); the hash is made the way Django's Argon2PasswordHasher
makes it (argon2id, 32-byte hash), and verified with argon2-cffi's PasswordHasher as
Django's `verify` does.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass

from argon2 import PasswordHasher, Type

from bench import procstat


@dataclass(frozen=True)
class Floor:
    processes: int
    verifications: int
    per_second: float  # all processes together, measured
    ceiling: float  # processes x 1000 / CPU ms per verification: with the cores all ours
    other_cores: float  # cores other processes kept busy meanwhile (noise on the measure)
    cpu_ms_per_verify: float  # CPU time of one verification, measured in-process
    memory_kib: int
    time_cost: int
    parallelism: int


def _run(args: tuple[int, int, int, float]) -> tuple[int, float, float]:
    memory_kib, time_cost, parallelism, seconds = args
    hasher = PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        type=Type.ID,
    )
    password = "shift start storm 42"
    encoded = hasher.hash(password)
    hasher.verify(encoded, password)  # warm: the first allocation of the memory block
    count, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        hasher.verify(encoded, password)
        count += 1
    return count, time.process_time() - cpu0, time.perf_counter() - wall0


def measure(memory_kib: int, time_cost: int, parallelism: int, seconds: float = 5.0) -> Floor:
    processes = os.cpu_count() or 1
    # spawn: the benchmark may have threads running (SMTP server, Kannel reader) by now.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        busy0 = procstat.machine_busy()
        results = pool.map(_run, [(memory_kib, time_cost, parallelism, seconds)] * processes)
        busy = procstat.machine_busy() - busy0
    count = sum(r[0] for r in results)
    cpu_ms = sum(r[1] for r in results) / count * 1000
    wall = max(r[2] for r in results)
    return Floor(
        processes=processes,
        verifications=count,
        per_second=sum(r[0] / r[2] for r in results),
        ceiling=processes * 1000 / cpu_ms,
        other_cores=max(0.0, busy - sum(r[1] for r in results)) / wall,
        cpu_ms_per_verify=cpu_ms,
        memory_kib=memory_kib,
        time_cost=time_cost,
        parallelism=parallelism,
    )
