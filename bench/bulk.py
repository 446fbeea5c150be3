"""Bulk MFA: an admin sets SMS for all 5,000 agents of a client through the real page (R8).

Usage: DATABASE_URL=postgres://... .venv/bin/python -m bench.bulk [--agents 5000]

POST /users/bulk/ (scope "All active users of level Agent", method SMS) in-process with
Django's test client, as bench.userlist measures the User list. Reports the time of the
request and whether the result page lists every agent as applied. Target (issue 6): < 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

from bench.userlist import ROOT, fresh_database, setup_django

TARGET_S = 10.0


def make_agents(n: int) -> object:
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR
    from deskgate.accounts.models import User

    client = actions.create_client("Bulk Contact", "25.4", "FI", by=OPERATOR)
    admin = actions.create_user(
        client,
        actions.UserInput("bulk.admin", "Bulk Admin", "admin", "bulk.admin@example.com"),
        by=OPERATOR,
        password="quiet lobster winter 42",
        temporary_password=False,
    ).user
    batch = []
    # As bench.userlist: scale data with bulk_create; the measured part is the bulk action.
    for i in range(n):
        u = User(
            client=client,
            username=f"bulk{i:05d}",
            full_name=f"Bulk Agent {i:05d}",
            level="agent",
            email=f"bulk{i:05d}@agents.example",
            work_phone=f"+35850{i:07d}",
            mfa_method="off",
            password="!",  # noqa: S106  # an unusable password
            must_change_password=False,
        )
        u.search_key = u.build_search_key()
        batch.append(u)
    User.objects.bulk_create(batch, batch_size=2000)
    return admin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=5000)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client as HttpClient

    from deskgate.accounts.models import User

    fresh_database()
    admin = make_agents(args.agents)
    http = HttpClient()
    http.force_login(admin)  # type: ignore[arg-type]
    session = http.session
    session["deskgate.last_seen"] = session["deskgate.signed_in_at"] = time.time()
    session.save()
    t0 = time.perf_counter()
    # The confirmation page's dry run (what the admin sees first), timed apart.
    preview = http.post("/users/bulk/", {"method": "sms", "scope": "level:agent"})
    preview_seconds = time.perf_counter() - t0
    assert preview.status_code == 200, preview.status_code
    t0 = time.perf_counter()
    response = http.post(
        "/users/bulk/", {"method": "sms", "scope": "level:agent", "key": str(uuid.uuid4())}
    )
    seconds = time.perf_counter() - t0
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    applied = User.objects.filter(level="agent", mfa_method="sms").count()
    listed = sum(f"bulk{i:05d}" in page for i in range(args.agents))
    verdict = "MET" if seconds < TARGET_S and applied == listed == args.agents else "MISSED"
    print(
        f"Bulk MFA: SMS for {args.agents:,} agents through POST /users/bulk/, {connection.vendor}: "
        f"{seconds:.1f} s; {applied:,} applied, {listed:,} listed on the result page "
        f"(target < {TARGET_S:.0f} s, all listed: {verdict}); the confirmation page's dry "
        f"run before it: {preview_seconds:.1f} s"
    )
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bulk-{connection.vendor}-{args.agents}.json"
    result = {
        "agents": args.agents,
        "seconds": seconds,
        "preview_seconds": preview_seconds,
        "applied": applied,
        "listed": listed,
    }
    path.write_text(json.dumps({"vendor": connection.vendor, **result}, indent=2))
    print(f"written {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
