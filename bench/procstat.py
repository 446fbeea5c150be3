"""CPU time of processes from /proc/<pid>/stat (Linux): the figure a noisy machine moves least.

Wall-clock throughput on a shared 2-core box depends on what else runs; the CPU seconds the
server's processes burn per sign-in do not (much). `utime + stime` of every live process
plus `cutime + cstime` of the root (children that ended and were reaped) is monotonic, so
a before/after difference is the work done in between, whether or not workers restarted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class Stat:
    pid: int
    comm: str
    ppid: int
    own: float  # utime + stime, seconds
    reaped: float  # cutime + cstime: ended children that this process waited for, seconds


def stat(pid: int) -> Stat | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split at the last ')'.
    head, _, rest = raw.rpartition(")")
    comm = head.partition("(")[2]
    fields = rest.split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return Stat(pid, comm, int(fields[1]), (utime + stime) / TICK, (cutime + cstime) / TICK)


def all_stats() -> list[Stat]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
            found.append(s)
    return found


def descendants(root: int, stats: Iterable[Stat] | None = None) -> list[Stat]:
    """The root and every process below it."""
    stats = list(all_stats() if stats is None else stats)
    children: dict[int, list[Stat]] = {}
    by_pid = {s.pid: s for s in stats}
    for s in stats:
        children.setdefault(s.ppid, []).append(s)
    if root not in by_pid:
        return []
    found, todo = [], [by_pid[root]]
    while todo:
        s = todo.pop()
        found.append(s)
        todo.extend(children.get(s.pid, []))
    return found


def tree_cpu(roots: Iterable[int]) -> float:
    """CPU seconds of these process trees (a gunicorn master and its workers), reaped included."""
    stats = all_stats()
    total = 0.0
    for root in roots:
        tree = descendants(root, stats)
        total += sum(s.own for s in tree)
        if tree:
            total += tree[0].reaped
    return total


def named_cpu(*names: str) -> float:
    """CPU seconds of every process whose command is one of `names` (PostgreSQL, Redis).

    Children that ended count through their parent's reaped time (the postmaster's).
    """
    stats = all_stats()
    mine = [s for s in stats if s.comm in names]
    pids = {s.pid for s in mine}
    return sum(s.own for s in mine) + sum(s.reaped for s in mine if s.ppid not in pids)


def database_backends(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving `database` (by pid): its
    command line names the database, so other test runs on the same cluster do not count."""
    found = {}
    for s in all_stats():
        if s.comm != "postgres":
            continue
        try:
            cmdline = (PROC / str(s.pid) / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if f" {database} ".encode() in cmdline.replace(b"\0", b" ") + b" ":
            found[s.pid] = s.own
    return found


class BackendClock:
    """CPU seconds of the backends of one database, polled in a thread: a backend that
    ends (the servers close a connection after CONN_MAX_AGE) keeps what it had at the last
    poll, so a difference of `total()` is the work done in between, less at most one poll
    interval of each backend that ended."""

    def __init__(self, database: str, every: float = 0.25) -> None:
        import threading

        self.database = database
        self.every = every
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            self.poll()

    def poll(self) -> None:
        found = database_backends(self.database)
        with self.lock:
            self.seen.update(found)

    def total(self) -> float:
        self.poll()
        with self.lock:
            return sum(self.seen.values())

    def stop(self) -> None:
        self.stopped.set()


def self_cpu() -> float:
    """CPU seconds of this process, every thread (the load client and the message sinks)."""
    t = os.times()
    return t.user + t.system


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy so far (user, system, interrupts)."""
    with (PROC / "stat").open() as f:
        fields = f.readline().split()
    # cpu user nice system idle iowait irq softirq steal ...
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / TICK
