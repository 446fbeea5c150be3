"""The storm's TOTP sign-in (issue 14): password, then the authenticator app's code.

Agents `totp00000`... of the first storm client, with Email MFA and an authenticator app
set up through the product's own flow (`signin.factors.start_enrolment`, then
`confirm_enrolment` with the app's first code, as the account page does). The app is set
up again at every run (removed first, as the user would), so the secrets are known to this
process only. At sign-in the code page asks for the app's code first and sends no Email.

A sign-in is five requests, as a browser makes them: GET /signin/, POST /signin/ (argon2;
no code sent: the user has an app) -> /signin/code/, GET /signin/code/, POST /signin/code/
(action=verify_app: the TOTP check, one conditional UPDATE spending the step) -> /,
GET / -> /account/. A code works once per 30-second step (replay protection): an agent
whose set-up spent the current step uses the next one, within the ±1 step drift.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from bench.agents import CLIENTS, Agent
from bench.browser import Browser
from bench.load import Outcome, Refused, _expect, password_step

STEP = 30


@dataclass(frozen=True)
class AppAgent:
    agent: Agent
    secret: str
    enrolled_step: int  # the step the set-up's confirming code spent


def totp_agent(index: int) -> Agent:
    password = "".join(chr(97 + (index * 7 + k * 3) % 26) for k in range(16)) + " harbour"
    return Agent(
        index=index,
        username=f"totp{index:05d}",
        password=password,
        channel="email",
        email=f"totp{index:05d}@agents.example",
        phone=f"+35841{index:07d}",
    )


def prepare(count: int) -> list[AppAgent]:
    """Create the agents that do not exist yet, and set their app up (again) through the
    product's flows; answer them with their secrets (Django must be set up)."""
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR, Actor
    from deskgate.accounts.models import Client, User
    from deskgate.signin import factors

    client = Client.objects.get(name=CLIENTS[0])
    ready = []
    for i in range(count):
        a = totp_agent(i)
        user = User.objects.filter(username=a.username).first()
        if user is None:
            user = actions.create_user(
                client,
                actions.UserInput(
                    username=a.username,
                    full_name=f"Totp Agent {i:05d}",
                    level="agent",
                    email=a.email,
                    work_phone=a.phone,
                    mfa_method="email",
                ),
                by=OPERATOR,
                password=a.password,
                temporary_password=False,
            ).user
        by = Actor(user=user, ip="127.0.0.1")
        factors.remove_app(user, by=by)
        enrolment = factors.start_enrolment(user)
        step = int(time.time()) // STEP
        factors.confirm_enrolment(user, pyotp.TOTP(enrolment.secret).at(step * STEP), by=by)
        ready.append(AppAgent(a, enrolment.secret, step))
    return ready


def app_code(who: AppAgent) -> str:
    """The app's code now, or the next step's when the set-up spent this one."""
    step = max(int(time.time()) // STEP, who.enrolled_step + 1)
    return pyotp.TOTP(who.secret).at(step * STEP)


def totp_sign_in(who: AppAgent, base: str) -> Outcome:
    browser = Browser()
    t0 = time.perf_counter()
    parts: dict[str, float] = {}
    try:
        password_step(browser, base, who.agent)
        t1 = time.perf_counter()
        parts["password_ms"] = (t1 - t0) * 1000
        page = browser.get(base, "/signin/code/")
        _expect(page, 200, "GET /signin/code/")
        if b'name="app_code"' not in page.body:
            raise Refused("the code page does not ask for the app's code")
        answer = browser.post(
            base,
            "/signin/code/",
            {"csrfmiddlewaretoken": page.csrf(), "action": "verify_app", "app_code": app_code(who)},
        )
        _expect(answer, 302, "POST /signin/code/ (app)", "/")
        home = browser.get(base, "/")
        _expect(home, 302, "GET / after sign-in", "/account/")
        parts["code_ms"] = (time.perf_counter() - t1) * 1000
    except Refused as exc:
        return Outcome(False, (time.perf_counter() - t0) * 1000, str(exc), "totp", parts)
    except (OSError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:120]
        return Outcome(False, (time.perf_counter() - t0) * 1000, reason, "totp", parts)
    finally:
        browser.close()
    return Outcome(True, (time.perf_counter() - t0) * 1000, "", "totp", parts)


def comparison(plain: dict | None, totp: dict | None) -> list[str]:
    """The TOTP sign-in beside the Email/SMS one: server CPU beyond the hash, p95."""
    if not totp or totp["server_cpu_ex_hash_ms"] is None:
        return []

    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    line = (
        f"  TOTP sign-in (password + app code, {totp['ok']}/{totp['attempted']}): server CPU "
        f"beyond the hash {f(totp['server_cpu_ex_hash_ms'])} ms, p95 {f(totp['p95_ms'])} ms"
    )
    if plain and plain["server_cpu_ex_hash_ms"] is not None:
        line += (
            f"; Email/SMS code sign-in (storm c=8) {f(plain['server_cpu_ex_hash_ms'])} ms, "
            f"p95 {f(plain['p95_ms'])} ms"
        )
    return [line]
