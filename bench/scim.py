"""SCIM at scale: the filtered list, provisioning by sequential POST, and deactivation.

Usage: .venv/bin/python -m bench.scim [--users 100000] [--provision 5000] [--rounds 200]
Uses DATABASE_URL (default: a SQLite file var/bench.sqlite3, rebuilt each run). Requests go
through Django's test client (the whole request: middleware, token check, rate count,
action, audit), one after another as Entra ID's provisioning service sends them.

Targets (issue 13): list with `userName eq` at 100,000 users p95 < 20 ms; 5,000 users by
sequential POST < 60 s; a full deactivation (PATCH active false: sessions and app tokens
end) p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Any

from bench.userlist import ROOT, fresh_database, make_users, setup_django

LIST_TARGET_MS = 20.0
PROVISION_TARGET_S = 60.0
DEACTIVATE_TARGET_MS = 50.0
SCIM = "application/scim+json"


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def run(users: int, provision: int, rounds: int) -> dict[str, Any]:
    from django.test import Client as HttpClient

    from deskgate.accounts.audit import OPERATOR
    from deskgate.accounts.models import Client, User, UserSession
    from deskgate.apitokens import tokens

    client, _admin = make_users(users)
    assert isinstance(client, Client)
    secret = tokens.issue(
        client, name="Bench directory", scope="scim", expires_days=None, by=OPERATOR
    ).secret
    http = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")

    # 1. The filtered list (Entra's probe before every create, and its matching).
    picks = random.Random(13).sample(range(users), min(rounds, users))
    list_ms = []
    for i in picks:
        t0 = time.perf_counter()
        response = http.get("/scim/v2/Users", {"filter": f'userName eq "AGENT{i:06d}"'})
        list_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200 and response.json()["totalResults"] == 1
    # 2. Provisioning by sequential POST.
    t0 = time.perf_counter()
    for i in range(provision):
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"new{i:05d}@bench.example",
            "name": {"givenName": "New", "familyName": f"Hire {i}"},
            "emails": [{"value": f"new{i:05d}@bench.example", "type": "work", "primary": True}],
            "externalId": f"ext-{i}",
            "active": True,
        }
        response = http.post("/scim/v2/Users", json.dumps(body), content_type=SCIM)
        assert response.status_code == 201, response.content
    provision_s = time.perf_counter() - t0
    # 3. Full deactivation: each person has a session that must end.
    victims = list(User.objects.filter(client=client, is_active=True, level="agent")[:rounds])
    for n, user in enumerate(victims):
        UserSession.objects.create(session_key=f"bench{n:035d}", user=user)
    deactivate_ms = []
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    for user in victims:
        t0 = time.perf_counter()
        response = http.patch(
            f"/scim/v2/Users/{user.subject}", json.dumps(patch), content_type=SCIM
        )
        deactivate_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content
    assert not UserSession.objects.filter(user__in=victims).exists()
    return {
        "list_userName_eq": {
            "median_ms": statistics.median(list_ms),
            "p95_ms": p95(list_ms),
            "rounds": len(list_ms),
        },
        "provision": {"users": provision, "seconds": provision_s},
        "deactivate": {
            "median_ms": statistics.median(deactivate_ms),
            "p95_ms": p95(deactivate_ms),
            "rounds": len(deactivate_ms),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--provision", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DESKGATE_API_RATE_LIMIT", "10000000")
    setup_django()
    from django.db import connection

    fresh_database()
    results = run(args.users, args.provision, args.rounds)
    listed, made, ended = results["list_userName_eq"], results["provision"], results["deactivate"]

    def verdict(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    print(f"SCIM, {args.users:,} users in one client, {connection.vendor}")
    print(
        f"list, filter userName eq:   median {listed['median_ms']:.1f} ms, p95 "
        f"{listed['p95_ms']:.1f} ms over {listed['rounds']}  (target < {LIST_TARGET_MS:.0f} ms: "
        f"{verdict(listed['p95_ms'] < LIST_TARGET_MS)})"
    )
    print(
        f"provision by POST:          {made['users']:,} users in {made['seconds']:.1f} s "
        f"({made['seconds'] / max(1, made['users']) * 1000:.1f} ms each)  (target < "
        f"{PROVISION_TARGET_S:.0f} s for 5,000: "
        f"{verdict(made['seconds'] / max(1, made['users']) * 5000 < PROVISION_TARGET_S)})"
    )
    print(
        f"deactivate (PATCH active):  median {ended['median_ms']:.1f} ms, p95 "
        f"{ended['p95_ms']:.1f} ms over {ended['rounds']}  (target < "
        f"{DEACTIVATE_TARGET_MS:.0f} ms: {verdict(ended['p95_ms'] < DEACTIVATE_TARGET_MS)})"
    )
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"scim-{connection.vendor}-{args.users}.json"
    path.write_text(json.dumps({"users": args.users, "vendor": connection.vendor, **results}))
    print(f"written {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
