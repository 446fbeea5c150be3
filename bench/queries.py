"""SQL statements per request of one full two-step sign-in, in-process (Django's test client).

Usage: DATABASE_URL=postgres://... .venv/bin/python -m bench.queries [--sql]

The profile of the storm shows most of the server's non-hash CPU in the ORM and psycopg;
this lists what each request of the sign-in asks the database, so the count can be watched
as it goes down. The code arrives through the development outbox here (one INSERT more
than with SMTP or Kannel), read back from it.
"""

from __future__ import annotations

import argparse
from collections import Counter

from bench.userlist import setup_django

PASSWORD = "quiet lagoon harbour"  # noqa: S105  # a benchmark user's password


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sql", action="store_true", help="print every statement")
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext
    from tests.mailbox import code_in

    from bench.userlist import fresh_database
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR
    from deskgate.delivery.models import OutboxMessage

    fresh_database()
    client = actions.create_client("Query Count", "25.4", "FI", by=OPERATOR)
    users = {}
    for channel in ("email", "sms"):
        users[channel] = actions.create_user(
            client,
            actions.UserInput(
                username=f"q.{channel}",
                full_name=f"Query {channel.title()}",
                email=f"q.{channel}@agents.example",
                work_phone="+358401110001" if channel == "email" else "+358401110002",
                mfa_method=channel,
            ),
            by=OPERATOR,
            password=PASSWORD,
            temporary_password=False,
        ).user
    print(f"SQL statements per request of a full sign-in ({connection.vendor})")
    runs = [
        (c, u, "first sign-in: guard row and hourly counters created") for c, u in users.items()
    ]
    # The second sign-in is a storm's steady state (for the user's own hourly counter too,
    # a shift start is every agent's first code of the hour: see the first).
    runs += [(c, u, "again: rows exist") for c, u in users.items()]
    for channel, user, when in runs:
        http = HttpClient(enforce_csrf_checks=False)
        steps: list[tuple[str, str, dict[str, str] | None]] = [
            ("GET /signin/", "/signin/", None),
            ("POST /signin/", "/signin/", {"username": user.username, "password": PASSWORD}),
            ("GET /signin/code/", "/signin/code/", None),
            ("POST /signin/code/", "/signin/code/", {"action": "verify", "code": "?"}),
            ("GET /", "/", None),
        ]
        total = 0
        print(f"\n{channel} MFA, {when}:")
        for label, path, form in steps:
            if form is not None and form.get("code") == "?":
                body = OutboxMessage.objects.order_by("-id").first().body  # type: ignore[union-attr]
                form["code"] = code_in(body)
            with CaptureQueriesContext(connection) as ctx:
                response = http.post(path, form) if form is not None else http.get(path)
            kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in ctx.captured_queries)
            total += len(ctx)
            summary = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
            status = response.status_code
            print(f"  {label:<20} HTTP {status}  {len(ctx):>3} statements ({summary})")
            if args.sql:
                for q in ctx.captured_queries:
                    print(f"      {q['sql'][:160]}")
        print(f"  {'total':<29}{total:>3} statements")


if __name__ == "__main__":
    main()
