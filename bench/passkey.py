"""The passkey sign-in in the storm: the password, then a security key at the code step.

Agents of their own (`key00000`...: the storm's agents keep their Email and SMS codes), each
with a software key (tests/softkey.py: real ES256 assertions, so the server runs py_webauthn's
whole verification) added through the product's flows before the servers start. A sign-in
is six requests, as a browser with a key makes them:
  GET /signin/, POST /signin/ (argon2) -> 302 /signin/code/ (no code sent: the user has a
  key), GET /signin/code/, POST /signin/passkey/options/ (a challenge stored), the key signs,
  POST /signin/code/ (action=verify_passkey: the challenge taken, the signature and counter
  checked) -> 302 /, GET / -> 302 /account/.
"""

from __future__ import annotations

import json
import time

from tests.softkey import SoftKey, enrol_key

from bench import load
from bench.agents import CLIENTS, Agent
from bench.agents import agent as storm_agent
from bench.browser import Browser


def agents(count: int) -> list[Agent]:
    """Email agents with their own names (the storm's count of its own stays exact)."""
    found = []
    for i in range(count):
        a = storm_agent(900_000 + i)
        found.append(
            Agent(
                index=i,
                username=f"key{i:05d}",
                password=a.password,
                channel="email",
                email=f"key{i:05d}@agents.example",
                phone=f"+35850{i:07d}",
            )
        )
    return found


def prepare(crowd: list[Agent]) -> dict[int, SoftKey]:
    """Create the agents if missing and give each a fresh key (Django set up here)."""
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR
    from deskgate.accounts.models import Client, User
    from deskgate.signin.models import Passkey

    client = Client.objects.get(name=CLIENTS[0])
    keys = {}
    for a in crowd:
        user = User.objects.filter(username=a.username).first()
        if user is None:
            user = actions.create_user(
                client,
                actions.UserInput(
                    username=a.username,
                    full_name=f"Key Agent {a.index:05d}",
                    level="agent",
                    email=a.email,
                    work_phone=a.phone,
                    mfa_method="email",
                ),
                by=OPERATOR,
                password=a.password,
                temporary_password=False,
            ).user
        Passkey.objects.filter(user=user).delete()
        keys[a.index] = enrol_key(user, name="Bench key")
    return keys


def sign_in(agent: Agent, base: str, key: SoftKey) -> load.Outcome:
    browser = Browser()
    t0 = time.perf_counter()
    parts: dict[str, float] = {}
    try:
        load.password_step(browser, base, agent)
        t1 = time.perf_counter()
        parts["password_ms"] = (t1 - t0) * 1000
        page = browser.get(base, "/signin/code/")
        load._expect(page, 200, "GET /signin/code/")
        token = page.csrf()
        got = browser.post(base, "/signin/passkey/options/", {"csrfmiddlewaretoken": token})
        load._expect(got, 200, "POST /signin/passkey/options/")
        options = json.loads(got.body)["publicKey"]
        answer = key.get(options, origin=base)
        done = browser.post(
            base,
            "/signin/code/",
            {"csrfmiddlewaretoken": token, "action": "verify_passkey", "credential": answer},
        )
        load._expect(done, 302, "POST /signin/code/ (passkey)", "/")
        home = browser.get(base, "/")
        load._expect(home, 302, "GET / after sign-in", "/account/")
        parts["key_ms"] = (time.perf_counter() - t1) * 1000
    except load.Refused as exc:
        return load.Outcome(False, (time.perf_counter() - t0) * 1000, str(exc), "key", parts)
    except (OSError, ValueError, KeyError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:120]
        return load.Outcome(False, (time.perf_counter() - t0) * 1000, reason, "key", parts)
    finally:
        browser.close()
    return load.Outcome(True, (time.perf_counter() - t0) * 1000, "", "key", parts)
