"""Users > MFA coverage at scale: the page and its CSV, server side, through Django.

Usage: .venv/bin/python -m bench.coverage [--users 10000] [--rounds 5]
Uses DATABASE_URL (default: a SQLite file var/bench.sqlite3, rebuilt each run); the users
are bench.userlist's (a third each Off, Email, SMS), so the page lists a third of them.
The first round parses every SMS number (phonenumbers); later ones find them parsed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.userlist import fresh_database, make_users, setup_django


def measure(admin: object, rounds: int) -> dict[str, tuple[float, float, float, int]]:
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    http = HttpClient()
    http.force_login(admin)  # type: ignore[arg-type]
    session = http.session
    session["deskgate.last_seen"] = session["deskgate.signed_in_at"] = time.time()
    session.save()
    results = {}
    for label, path in (
        ("page", "/users/coverage/"),
        ("page, filtered", "/users/coverage/?level=agent&reason=off&page=3"),
        ("CSV", "/users/coverage.csv"),
    ):
        times, cpu, queries = [], [], 0
        for _ in range(rounds):
            with CaptureQueriesContext(connection) as captured:
                t0, c0 = time.perf_counter(), time.process_time()
                response: Any = http.get(path)
                if response.streaming:
                    b"".join(response.streaming_content)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            assert response.status_code == 200, response.status_code
            queries = len(captured)
        results[label] = (statistics.median(times), max(times), statistics.median(cpu), queries)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    fresh_database()
    _client, admin = make_users(args.users)
    results = measure(admin, args.rounds)
    print(
        f"MFA coverage, {args.users:,} active users in one client, {connection.vendor}, "
        f"{args.rounds} rounds"
    )
    # CPU time of this process (Django and SQLite run in it): wall time on a shared
    # machine says more about the neighbours than about the page.
    print(f"{'request':<18}{'median ms':>12}{'max ms':>10}{'cpu ms':>9}{'queries':>9}")
    for label, (median, worst, cpu, queries) in results.items():
        print(f"{label:<18}{median:>12.1f}{worst:>10.1f}{cpu:>9.1f}{queries:>9}")


if __name__ == "__main__":
    main()
