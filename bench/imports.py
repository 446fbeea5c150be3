"""CSV import: 5,000 rows (1,000 changes of existing agents, 4,000 new agents with Email or
SMS MFA) checked by every rule, as a dry run and then applied, in one transaction each.

Usage: DATABASE_URL=postgres://... .venv/bin/python -m bench.imports [--rows 5000] [--invite]

With --invite the apply also sends each new agent an invitation (issue 16), to the
development outbox (no EMAIL_URL), over one connection, within the send caps.

Calls the import action directly (as `deskgate import-users` and the page do) after reading
the file with `imports.read_csv`. Target (issue 16): 5,000 rows in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.userlist import ROOT, fresh_database, setup_django

TARGET_S = 10.0


def make_file(existing: int, rows: int) -> bytes:
    lines = ["username;full_name;level;email;work_phone;mfa;employment"]
    for i in range(rows):
        if i < existing:  # an existing agent, renamed
            lines.append(
                f"bulk{i:05d};Renamed Agent {i:05d};agent;bulk{i:05d}@agents.example;"
                f"+35850{i:07d};off;active"
            )
        else:
            method = "sms" if i % 2 else "email"
            lines.append(
                f"new{i:05d};New Agent {i:05d};agent;new{i:05d}@agents.example;"
                f"+35845{i:07d};{method};active"
            )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--invite", action="store_true", help="apply with invitations")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from bench.bulk import make_agents
    from deskgate.accounts.actions import imports
    from deskgate.accounts.audit import OPERATOR
    from deskgate.accounts.models import Client, User

    fresh_database()
    existing = min(1000, args.rows)
    make_agents(existing)
    client = Client.objects.get(name="Bulk Contact")
    data = make_file(existing, args.rows)
    figures: dict[str, float] = {}
    for label, dry in (("dry run", True), ("apply", False)):
        t0 = time.perf_counter()
        result = imports.import_users(
            client, imports.read_csv(data), by=OPERATOR, dry_run=dry, invite=args.invite
        )
        figures[label] = time.perf_counter() - t0
        assert not result.refused, result.refused[:3]
        assert not result.not_invited, result.not_invited[:3]
    created = User.objects.filter(client=client, username__startswith="new").count()
    verdict = "MET" if max(figures.values()) < TARGET_S else "MISSED"
    print(
        f"CSV import of {args.rows:,} rows ({existing:,} changes, {created:,} created), "
        f"{connection.vendor}: dry run {figures['dry run']:.1f} s, apply {figures['apply']:.1f} s "
        f"(target < {TARGET_S:.0f} s: {verdict})"
        + (f"; {result.invited:,} invitations sent with the apply" if args.invite else "")
    )
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-invite" if args.invite else ""
    path = out / f"imports-{connection.vendor}-{args.rows}{suffix}.json"
    path.write_text(
        json.dumps({"vendor": connection.vendor, "rows": args.rows, **figures}, indent=2)
    )
    print(f"written {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
