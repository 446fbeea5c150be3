"""Where the server's CPU goes: py-spy samples of the gunicorn workers, summed up.

`record()` runs `py-spy record --subprocesses --function --gil --format raw` against a
gunicorn master while a scenario runs; `summary()` reads the collapsed stacks of the
workers. With --gil a sample is a moment a worker ran Python; the hash (argon2 releases the
GIL) is left out, so the samples split the server's non-hash CPU into the items named
below and into the hottest functions.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"

# (label, a substring of a frame "function (file:line)") -- inclusive: a stack counts once
# for each item it passes through, so the items overlap (a query inside audit.record is both).
ITEMS: list[tuple[str, str]] = [
    ("SQL, all of it: ORM + psycopg (compile, send, wait, fetch)", "django/db/"),
    ("  ORM: compiling queries (SQLCompiler)", "db/models/sql/compiler.py"),
    ("  psycopg: send, wait for PostgreSQL, fetch", "psycopg/"),
    ("  transactions: atomic() BEGIN/COMMIT/SAVEPOINT", "django/db/transaction.py"),
    ("sessions: load/save/cycle_key (cached_db backend)", "contrib/sessions/"),
    ("auth: login() (cycle_key, last_login, signals)", "login (django/contrib/auth/__init__.py"),
    ("templates: render", "django/template/"),
    ("view signin.views.password_step", "password_step (deskgate/signin/views.py"),
    ("  credentials.check_credentials (hash excluded)", "check_credentials ("),
    ("  pipeline.begin (pending sign-in, cycle_key)", "begin (deskgate/signin/pipeline.py"),
    ("  pipeline.advance (owes_code, issue)", "advance (deskgate/signin/pipeline.py"),
    ("  challenge.issue (guard, caps, code, send, audit)", "issue (deskgate/signin/challenge.py"),
    ("    caps.admit", "admit (deskgate/delivery/caps.py"),
    ("    delivery: send_email (smtplib)", "send_email (deskgate/delivery/channels.py"),
    ("    delivery: send_sms (Kannel over urllib)", "send_sms (deskgate/delivery/channels.py"),
    ("view signin.code_views.code_step", "code_step (deskgate/signin/code_views.py"),
    ("  pipeline.current (pending + user + client)", "current (deskgate/signin/pipeline.py"),
    ("  challenge.verify", "verify (deskgate/signin/challenge.py"),
    ("  pipeline.finish (login, UserSession, audit)", "finish (deskgate/signin/pipeline.py"),
    ("view web.views.pages.home", "home (deskgate/web/views/pages.py"),
    ("accounts.audit.record (everywhere)", "record (deskgate/accounts/audit.py"),
    ("challenge._guard (everywhere)", "_guard (deskgate/signin/challenge.py"),
    ("middleware: CSRF", "django/middleware/csrf.py"),
    ("middleware: messages", "contrib/messages/"),
    # Django's get_user, called by the lazy request.user (deskgate.http.middleware's).
    ("middleware: auth (request.user)", "get_user (django/contrib/auth/__init__.py"),
    ("URL resolving", "django/urls/"),
    ("gunicorn: parse request, write response", "gunicorn/http/"),
    ("logging", "/logging/"),
]


@dataclass
class Summary:
    samples: int
    hash_samples: int
    items: list[tuple[str, int]]  # (label, samples), hash stacks excluded
    self_top: list[tuple[str, int]]  # hottest functions by own samples, hash excluded
    first_party: list[tuple[str, int]]  # deskgate functions, inclusive, hash excluded


def available() -> bool:
    return PY_SPY.exists() or shutil.which("py-spy") is not None


def record(pid: int, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    exe = str(PY_SPY) if PY_SPY.exists() else "py-spy"
    argv = [exe, "record", "--pid", str(pid), "--subprocesses", "--function", "--format", "raw"]
    # --gil: only a thread holding the GIL is sampled. Without it py-spy counts much of the
    # time a worker waits on PostgreSQL (psycopg's Connection.wait) as active: the samples
    # added up to ~1.5 x the CPU time /proc reports. argon2 (and libpq) release the GIL, so
    # the hash is not in these samples: its CPU is the hash floor's figure.
    argv += ["--rate", str(rate), "--output", str(out), "--gil"]
    return subprocess.Popen(  # noqa: S603  # py-spy from the venv, our arguments
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """py-spy writes its file when interrupted."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _short(frame: str) -> str:
    # "send (/work/main/.venv/lib/python3.11/site-packages/psycopg/cursor.py:12)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where.rsplit(':', 1)[0]})"


def summary(paths: list[Path], top: int = 15) -> Summary:
    total = hashed = 0
    items: Counter[str] = Counter()
    own: Counter[str] = Counter()
    first: Counter[str] = Counter()
    for path in paths:
        for frames, count in _stacks(path):
            if sum(f.startswith("process ") for f in frames) < 2:
                continue  # the gunicorn master (its control loop idles): workers only
            total += count
            if any("argon2" in f for f in frames):
                hashed += count
                continue
            joined = ";".join(frames)
            for label, needle in ITEMS:
                if needle in joined:
                    items[label] += count
            own[_short(frames[-1])] += count
            seen = {
                _short(f)
                for f in frames
                if "deskgate/" in f
                and "/site-packages/" not in f
                and "Middleware.__call__" not in f
            }
            for name in seen:
                first[name] += count
    ranked = sorted(items.items(), key=lambda kv: -kv[1])
    return Summary(total, hashed, ranked, own.most_common(top), first.most_common(top))
