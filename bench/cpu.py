"""Server CPU and SQL statements per request of a two-step sign-in, in-process (issue 17).

Usage: DATABASE_URL=postgres://... [CACHE_URL=redis://...] .venv/bin/python -m bench.cpu
       [--agents 60] [--profile N] [--label NAME]

The storm's figures come from /proc of a real server on a shared machine; this one is the
process CPU time (`time.process_time`) of each request through Django's WSGI handler, one
request at a time, in this process: other processes on the machine move it little. The
argon2id verification is timed apart (its own CPU) and taken out, so "beyond the hash" is
what the framework, the ORM, the templates and psycopg cost. Statements are counted in a
separate pass (counting them costs CPU too). Email MFA agents; the code is read from
Django's in-memory mail backend, so no SMTP or outbox work is measured (the storm has it).

--step LABEL (with --profile) profiles that step alone, as STEPS names it.
--sql prints the statements of each step (of the counted pass, 300 characters each).
--profile N prints the N hottest functions of the measured pass (cProfile, own and
inclusive time). Writes var/bench/cpu-<label>.json; when var/bench/cpu-before.json exists,
prints it beside this run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.userlist import setup_django

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
PASSWORD = "quiet lagoon harbour"  # noqa: S105  # a benchmark user's password
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CODE = re.compile(r"\b(\d{6})\b")
FORM = "application/x-www-form-urlencoded"  # a browser's form, not the test client's multipart
STEPS = ("GET /signin/", "POST /signin/", "GET /signin/code/", "POST /signin/code/", "GET /")


class HashClock:
    """CPU spent in argon2id verifications, to take it out of the steps' figures."""

    def __init__(self) -> None:
        self.spent = 0.0

    def install(self) -> None:
        from deskgate.accounts.hashers import ConfiguredArgon2PasswordHasher

        original = ConfiguredArgon2PasswordHasher.verify
        clock = self

        def verify(hasher: Any, password: str, encoded: str) -> bool:
            t0 = time.process_time()
            try:
                return original(hasher, password, encoded)
            finally:
                clock.spent += time.process_time() - t0

        ConfiguredArgon2PasswordHasher.verify = verify  # type: ignore[method-assign,assignment]  # timed


_client: Any = None


def browser() -> Any:
    """One test client (one WSGI handler, its middleware loaded once, as in a worker),
    with no cookies: a new browser."""
    global _client
    from http.cookies import SimpleCookie

    from django.test import Client

    if _client is None:
        _client = Client(enforce_csrf_checks=True)
    _client.cookies = SimpleCookie()
    return _client


def sign_in(
    username: str,
    *,
    count: bool,
    clock: HashClock,
    show_sql: bool = False,
    profile: tuple[cProfile.Profile, str] | None = None,
) -> dict[str, tuple[float, int]]:
    """One full sign-in; per step (CPU seconds beyond the hash, statements)."""
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = browser()
    figures: dict[str, tuple[float, int]] = {}
    token = ""

    def send(path: str, data: dict[str, str] | None) -> Any:
        if data is None:
            return http.get(path)
        return http.post(path, urlencode(data), content_type=FORM)  # as a browser posts a form

    def step(label: str, path: str, data: dict[str, str] | None, status: int) -> Any:
        hashed = clock.spent
        if count:
            with CaptureQueriesContext(connection) as ctx:
                response = send(path, data)
            statements = len(ctx)
            if show_sql:
                print(f"-- {label}: {statements} statements")
                for query in ctx.captured_queries:
                    print("   ", " ".join(query["sql"].split())[:300])
        else:
            profiler = profile[0] if profile and profile[1] in ("", label) else None
            if profiler:
                profiler.enable()
            t0 = time.process_time()
            response = send(path, data)
            cpu = time.process_time() - t0 - (clock.spent - hashed)
            if profiler:
                profiler.disable()
            statements = 0
        if response.status_code != status:
            raise SystemExit(f"{label}: HTTP {response.status_code}, expected {status}")
        figures[label] = (0.0 if count else cpu, statements)
        return response

    mail.outbox = []
    page = step("GET /signin/", "/signin/", None, 200)
    token = CSRF.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}
    step("POST /signin/", "/signin/", form, 302)
    page = step("GET /signin/code/", "/signin/code/", None, 200)
    token = CSRF.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    code = CODE.search(str(mail.outbox[-1].body)).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "action": "verify", "code": code}
    step("POST /signin/code/", "/signin/code/", form, 302)
    step("GET /", "/", None, 302)
    return figures


def postgres_backend() -> int | None:
    """The pid of this process's PostgreSQL backend (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def backend_cpu(pid: int | None) -> float:
    from bench import procstat

    found = procstat.stat(pid) if pid else None
    return found.own if found else 0.0


def make_agents(n: int) -> list[str]:
    from bench.userlist import fresh_database
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR

    fresh_database()
    client = actions.create_client("CPU Bench", "25.4", "FI", by=OPERATOR)
    names = []
    for i in range(n):
        user = actions.create_user(
            client,
            actions.UserInput(
                username=f"cpu.{i}",
                full_name=f"Cpu Agent {i}",
                email=f"cpu.{i}@agents.example",
                mfa_method="email",
            ),
            by=OPERATOR,
            password=PASSWORD,
            temporary_password=False,
        ).user
        names.append(user.username)
    return names


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=60)
    p.add_argument("--profile", type=int, default=0, help="print the N hottest functions")
    p.add_argument("--label", default="after", help="name of the JSON written (after)")
    p.add_argument("--sql", action="store_true", help="print each step's statements")
    p.add_argument("--step", default="", help="profile this step only ('POST /signin/')")
    args = p.parse_args()
    setup_django()
    import django
    from django.conf import settings
    from django.db import connection

    django.setup()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock = HashClock()
    clock.install()
    names = make_agents(args.agents)
    # Warm-up (imports, templates, connections), then one counted pass, then the measured.
    for name in names[:3]:
        sign_in(name, count=False, clock=clock)
    counted = sign_in(names[3], count=True, clock=clock, show_sql=args.sql)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    per_step: dict[str, list[float]] = {s: [] for s in STEPS}
    totals: list[float] = []
    hash_before = clock.spent
    backend = postgres_backend()
    db_before = backend_cpu(backend)
    for name in names[4:]:
        figures = sign_in(
            name, count=False, clock=clock, profile=(profiler, args.step) if profiler else None
        )
        for s, (cpu, _) in figures.items():
            per_step[s].append(cpu * 1000)
        totals.append(sum(cpu for cpu, _ in figures.values()) * 1000)
    db_after = backend_cpu(backend)
    runs = len(totals)
    result = {
        "label": args.label,
        "database": connection.vendor,
        "sessions": settings.SESSION_ENGINE.rsplit(".", 1)[-1],
        "sign_ins": runs,
        "hash_ms": (clock.spent - hash_before) * 1000 / runs,
        "db_cpu_ms": (db_after - db_before) * 1000 / runs if backend else None,
        "steps": {
            s: {"cpu_ms": statistics.median(per_step[s]), "statements": counted[s][1]}
            for s in STEPS
        },
        "total_cpu_ms": statistics.median(totals),
        "total_statements": sum(n for _, n in counted.values()),
        "load": os.getloadavg()[0],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"cpu-{args.label}.json").write_text(json.dumps(result, indent=2))
    before_path = OUT / "cpu-before.json"
    before = json.loads(before_path.read_text()) if before_path.exists() else None
    print(
        f"In-process CPU per sign-in request beyond the hash ({result['database']}, "
        f"{result['sessions']} sessions; medians of {runs} sign-ins; load {result['load']:.1f})"
    )
    head = f"{'step':<22}{'CPU ms':>9}{'SQL':>6}"
    if before and before is not result and args.label != "before":
        head += f"{'| before CPU ms':>16}{'SQL':>6}"
    print(head)
    for s in (*STEPS, "total"):
        now = result["steps"].get(s) or {
            "cpu_ms": result["total_cpu_ms"],
            "statements": result["total_statements"],
        }
        line = f"{s:<22}{now['cpu_ms']:>9.2f}{now['statements']:>6}"
        if before and args.label != "before":
            was = before["steps"].get(s) or {
                "cpu_ms": before["total_cpu_ms"],
                "statements": before["total_statements"],
            }
            line += f"{'| ':>7}{was['cpu_ms']:>9.2f}{was['statements']:>6}"
        print(line)
    print(f"argon2id verification: {result['hash_ms']:.1f} ms CPU (not in the figures above)")
    if result["db_cpu_ms"] is not None:
        was = ""
        if before and before.get("db_cpu_ms") and args.label != "before":
            was = f" (before: {before['db_cpu_ms']:.2f} ms)"
        print(f"PostgreSQL backend CPU per sign-in: {result['db_cpu_ms']:.2f} ms{was}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
