"""Server CPU and SQL statements per request of an app's sign-in through the OpenID
provider, in-process, beside the plain two-step sign-in (issue 17).

Usage: DATABASE_URL=postgres://... [CACHE_URL=redis://...] .venv/bin/python -m bench.cpu_app
       [--agents 30] [--profile N] [--label NAME] [--sql]

As bench/cpu.py (its sign-in, its clock, its argon2id taken out), for the requests of
bench/app_signin.py: the browser's `GET /o/authorize/` while signed out (302 to the sign-in),
the four sign-in requests (the code step leading back to the authorization), the
authorization again (302 with the code), then the app's `POST /o/token/` (PKCE; a public app
with its client_id, a confidential one with client_secret_basic) and `GET /o/userinfo/`.
Each agent signs in once: a third plainly (bench/cpu.py's five requests), a third to the
public app, a third to the confidential app, taking turns, so the three see the same
moment of a shared machine. The app's figures are registered through the product's own
action (provider.registry, as bench/app_signin.py does).

"extra" is an app sign-in's whole CPU beyond the hash minus a plain one's: the figure
issue 17 holds at 10 ms. Writes var/bench/cpu-app-<label>.json; when
var/bench/cpu-app-before.json exists, prints it beside this run.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import pstats
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench import cpu
from bench.userlist import setup_django

FLOWS = ("plain", "public", "confidential")
APP_STEPS = (
    "GET /o/authorize/ (out)",
    "GET /signin/",
    "POST /signin/",
    "GET /signin/code/",
    "POST /signin/code/",
    "GET /o/authorize/ (code)",
    "POST /o/token/",
    "GET /o/userinfo/",
)
PROVIDER_STEPS = (APP_STEPS[0], *APP_STEPS[5:])

_server: Any = None
# --profile-step: a profiler per request label, enabled around that request only.
STEP_PROFILERS: dict[str, cProfile.Profile] = {}


def app_server() -> Any:
    """The app's server side: a client of its own, no browser cookies, no CSRF."""
    global _server
    from django.test import Client

    if _server is None:
        _server = Client()
    return _server


def app_sign_in(
    username: str, app: Any, *, count: bool, clock: cpu.HashClock, show_sql: bool = False
) -> dict[str, tuple[float, int]]:
    """One sign-in to `app` (bench.app_signin.App); per step (CPU seconds beyond the hash,
    statements)."""
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.app_signin import REDIRECT_URI, authorize_path

    browser, server = cpu.browser(), app_server()
    figures: dict[str, tuple[float, int]] = {}
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    authorize = authorize_path(app, state, nonce, verifier)

    def step(label: str, status: int, send: Callable[[], Any]) -> Any:
        hashed = clock.spent
        if count:
            with CaptureQueriesContext(connection) as ctx:
                response = send()
            statements, spent = len(ctx), 0.0
            if show_sql:
                print(f"-- {label}: {statements} statements")
                for query in ctx.captured_queries:
                    print("   ", " ".join(query["sql"].split())[:300])
        else:
            profiler = STEP_PROFILERS.get(label)
            t0 = time.process_time()
            if profiler is not None:
                profiler.enable()
            response = send()
            if profiler is not None:
                profiler.disable()
            spent = time.process_time() - t0 - (clock.spent - hashed)
            statements = 0
        if response.status_code != status:
            raise SystemExit(f"{label}: HTTP {response.status_code}, expected {status}")
        figures[label] = (spent, statements)
        return response

    mail.outbox = []
    answer = step(APP_STEPS[0], 302, lambda: browser.get(authorize))
    if not answer["Location"].startswith("/signin/"):
        raise SystemExit(f"{APP_STEPS[0]}: to {answer['Location']}, not the sign-in")
    page = step("GET /signin/", 200, lambda: browser.get("/signin/"))
    token = cpu.CSRF.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "username": username, "password": cpu.PASSWORD}
    signin = urlencode(form)
    step("POST /signin/", 302, lambda: browser.post("/signin/", signin, content_type=cpu.FORM))
    page = step("GET /signin/code/", 200, lambda: browser.get("/signin/code/"))
    token = cpu.CSRF.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    code = cpu.CODE.search(str(mail.outbox[-1].body)).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "action": "verify", "code": code}
    verify = urlencode(form)
    answer = step(
        "POST /signin/code/",
        302,
        lambda: browser.post("/signin/code/", verify, content_type=cpu.FORM),
    )
    back = answer["Location"]
    if not back.startswith("/o/authorize/"):
        raise SystemExit(f"POST /signin/code/: to {back}, not back to the authorization")
    answer = step(APP_STEPS[5], 302, lambda: browser.get(back))
    callback = parse_qs(urlsplit(answer["Location"]).query)
    if callback.get("state") != [state] or "code" not in callback:
        raise SystemExit(f"{APP_STEPS[5]}: no code in {answer['Location']}")
    body = {
        "grant_type": "authorization_code",
        "code": callback["code"][0],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers: dict[str, str] = {}
    if app.client_secret is None:
        body["client_id"] = app.client_id
    else:
        pair = f"{app.client_id}:{app.client_secret}".encode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {base64.b64encode(pair).decode()}"
    answer = step(
        "POST /o/token/",
        200,
        lambda: server.post(
            "/o/token/",
            urlencode(body),
            content_type="application/x-www-form-urlencoded",
            **headers,
        ),
    )
    tokens = json.loads(answer.content)
    if "id_token" not in tokens:
        raise SystemExit(f"POST /o/token/: no ID token in {sorted(tokens)}")
    bearer = f"Bearer {tokens['access_token']}"
    answer = step(
        "GET /o/userinfo/", 200, lambda: server.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer)
    )
    if "sub" not in json.loads(answer.content):
        raise SystemExit("GET /o/userinfo/: no sub")
    return figures


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cpu_app", description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=30, help="sign-ins of each kind (30)")
    p.add_argument("--profile", type=int, default=0, help="print the N hottest functions")
    p.add_argument(
        "--profile-step",
        action="append",
        default=[],
        help="profile only this request of the app sign-ins (a label as printed; repeatable)",
    )
    p.add_argument("--label", default="after", help="name of the JSON written (after)")
    p.add_argument(
        "--sql", action="store_true", help="print each step's statements (of the counted pass)"
    )
    args = p.parse_args()
    setup_django()
    import django
    from django.conf import settings
    from django.db import connection

    django.setup()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from bench.app_signin import register

    clock = cpu.HashClock()
    clock.install()
    names = iter(cpu.make_agents(3 * (args.agents + 2)))
    apps = {
        "public": register("CPU Bench public app", confidential=False),
        "confidential": register("CPU Bench confidential app", confidential=True),
    }

    def run(flow: str, *, count: bool) -> dict[str, tuple[float, int]]:
        show_sql = count and args.sql
        if show_sql:
            print(f"\n== {flow} sign-in")
        if flow == "plain":
            return cpu.sign_in(next(names), count=count, clock=clock, show_sql=show_sql)
        return app_sign_in(next(names), apps[flow], count=count, clock=clock, show_sql=show_sql)

    # Warm-up (imports, templates, connections, the signing key), then one counted pass
    # of each flow, then the measured ones, the flows taking turns.
    for flow in FLOWS:
        run(flow, count=False)
    for label in args.profile_step:
        STEP_PROFILERS[label] = cProfile.Profile(time.process_time)
    counted = {flow: run(flow, count=True) for flow in FLOWS}
    samples: dict[str, dict[str, list[float]]] = {flow: {} for flow in FLOWS}
    totals: dict[str, list[float]] = {flow: [] for flow in FLOWS}
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    hash_before = clock.spent
    backend = cpu.postgres_backend()
    db_before = cpu.backend_cpu(backend)
    if profiler:
        profiler.enable()
    for _ in range(args.agents):
        for flow in FLOWS:
            figures = run(flow, count=False)
            for s, (spent, _) in figures.items():
                samples[flow].setdefault(s, []).append(spent * 1000)
            totals[flow].append(sum(spent for spent, _ in figures.values()) * 1000)
    if profiler:
        profiler.disable()
    db_after = cpu.backend_cpu(backend)
    runs = args.agents * len(FLOWS)

    def flow_result(flow: str) -> dict[str, Any]:
        steps = {
            s: {"cpu_ms": statistics.median(v), "statements": counted[flow][s][1]}
            for s, v in samples[flow].items()
        }
        return {
            "steps": steps,
            "total_cpu_ms": statistics.median(totals[flow]),
            "total_statements": sum(n for _, n in counted[flow].values()),
        }

    flows = {flow: flow_result(flow) for flow in FLOWS}
    landing = flows["plain"]["steps"]["GET /"]
    for flow in ("public", "confidential"):
        flows[flow]["extra_cpu_ms"] = flows[flow]["total_cpu_ms"] - flows["plain"]["total_cpu_ms"]
        flows[flow]["extra_statements"] = (
            flows[flow]["total_statements"] - flows["plain"]["total_statements"]
        )
        # The provider's own requests in place of the landing page: the same difference
        # without the noise of the four sign-in requests both kinds make.
        steps = flows[flow]["steps"]
        flows[flow]["provider_extra_cpu_ms"] = (
            sum(steps[s]["cpu_ms"] for s in PROVIDER_STEPS) - landing["cpu_ms"]
        )
        flows[flow]["provider_extra_statements"] = (
            sum(steps[s]["statements"] for s in PROVIDER_STEPS) - landing["statements"]
        )
    result = {
        "label": args.label,
        "database": connection.vendor,
        "sessions": settings.SESSION_ENGINE.rsplit(".", 1)[-1],
        "sign_ins_each": args.agents,
        "hash_ms": (clock.spent - hash_before) * 1000 / runs,
        "db_cpu_ms_all_flows": (db_after - db_before) * 1000 / runs if backend else None,
        "flows": flows,
        "load": os.getloadavg()[0],
    }
    cpu.OUT.mkdir(parents=True, exist_ok=True)
    (cpu.OUT / f"cpu-app-{args.label}.json").write_text(json.dumps(result, indent=2))
    before_path = cpu.OUT / "cpu-app-before.json"
    before = (
        json.loads(before_path.read_text())
        if before_path.exists() and args.label != "before"
        else None
    )
    report(result, before)
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
    for label, step_profiler in STEP_PROFILERS.items():
        print(f"\n--- {label} (both apps) ---")
        stats = pstats.Stats(step_profiler)
        stats.sort_stats("tottime").print_stats(args.profile or 30)
        stats.sort_stats("cumulative").print_stats(args.profile or 30)


def report(result: dict[str, Any], before: dict[str, Any] | None) -> None:
    print(
        f"In-process CPU per request beyond the hash ({result['database']}, "
        f"{result['sessions']} sessions; medians of {result['sign_ins_each']} sign-ins of "
        f"each kind; load {result['load']:.1f})"
    )
    for flow in FLOWS:
        now, was = result["flows"][flow], before["flows"][flow] if before else None
        print(f"\n{flow} sign-in" if flow == "plain" else f"\n{flow} app sign-in")
        head = f"{'step':<26}{'CPU ms':>9}{'SQL':>6}"
        if was:
            head += f"{'| before CPU ms':>16}{'SQL':>6}"
        print(head)
        for s in now["steps"]:
            line = f"{s:<26}{now['steps'][s]['cpu_ms']:>9.2f}{now['steps'][s]['statements']:>6}"
            if was and s in was["steps"]:
                w = was["steps"][s]
                line += f"{'| ':>7}{w['cpu_ms']:>9.2f}{w['statements']:>6}"
            print(line)
        rows = [("total", "total_cpu_ms", "total_statements")]
        if flow != "plain":
            rows.append(("extra over plain", "extra_cpu_ms", "extra_statements"))
            rows.append(
                ("provider's 4 - GET /", "provider_extra_cpu_ms", "provider_extra_statements")
            )
        for name, c, n in rows:
            line = f"{name:<26}{now[c]:>9.2f}{now[n]:>6}"
            if was and c in was:
                line += f"{'| ':>7}{was[c]:>9.2f}{was[n]:>6}"
            print(line)
    print(f"\nargon2id verification: {result['hash_ms']:.1f} ms CPU (not in the figures above)")
    if result["db_cpu_ms_all_flows"] is not None:
        print(
            f"PostgreSQL backend CPU per sign-in, the three kinds together: "
            f"{result['db_cpu_ms_all_flows']:.2f} ms"
        )
    for flow in ("public", "confidential"):
        extra = result["flows"][flow]["extra_cpu_ms"]
        own = result["flows"][flow]["provider_extra_cpu_ms"]
        verdict = "MET" if extra <= 10.0 else "MISSED"
        print(
            f"{flow} app sign-in: {extra:+.2f} ms over a plain one (the provider's requests "
            f"instead of the landing page: {own:+.2f} ms; target +10 ms: {verdict})"
        )


if __name__ == "__main__":
    main()
