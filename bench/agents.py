"""The storm's agents, created with the product's own actions at the configured hash cost.

Two clients (contact centers), each with half the agents; each client's agents are half
Email MFA, half SMS MFA. `create_user` locks the client's row while it hashes the password,
so one process per client creates them in parallel on two cores.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from dataclasses import dataclass

CLIENTS = ("Storm North", "Storm South")
WARM_UP = 16  # extra agents signed in before measuring, so no scenario pays the workers' start


@dataclass(frozen=True)
class Agent:
    index: int
    username: str
    password: str
    channel: str  # "email" or "sms"
    email: str
    phone: str  # E.164

    @property
    def destination(self) -> str:
        """Where the code arrives, as the SMTP server and Kannel name the recipient."""
        return self.email if self.channel == "email" else self.phone


def agent(index: int) -> Agent:
    digest = hashlib.sha256(f"storm agent {index}".encode()).hexdigest()[:16]
    # Letters only: no digits that could repeat the number in the user's name (the
    # context-words validator refuses a password containing the user name or full name).
    password = "".join(chr(97 + int(c, 16)) for c in digest) + " lagoon"
    return Agent(
        index=index,
        username=f"storm{index:05d}",
        password=password,
        channel="email" if index % 2 == 0 else "sms",
        email=f"storm{index:05d}@agents.example",
        phone=f"+35840{index:07d}",
    )


def agents(count: int, start: int = 0) -> list[Agent]:
    return [agent(i) for i in range(start, start + count)]


def client_of(index: int) -> int:
    return (index // 2) % len(CLIENTS)  # both clients get Email and SMS agents


def _create(args: tuple[int, list[int]]) -> int:
    client_number, indices = args
    import django

    django.setup()
    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR
    from deskgate.accounts.models import Client

    client = Client.objects.get(name=CLIENTS[client_number])
    for i in indices:
        a = agent(i)
        actions.create_user(
            client,
            actions.UserInput(
                username=a.username,
                full_name=f"Storm Agent {i:05d}",
                level="agent",
                email=a.email,
                work_phone=a.phone,
                mfa_method=a.channel,
            ),
            by=OPERATOR,
            password=a.password,
            temporary_password=False,
        )
    return len(indices)


def create(total: int) -> None:
    """Create both clients and agents 0..total-1 (Django must be set up in this process)."""
    from django.db import connection

    from deskgate.accounts import actions
    from deskgate.accounts.audit import OPERATOR

    for name in CLIENTS:
        actions.create_client(name, "25.4", "FI", by=OPERATOR)
    connection.close()
    jobs = [(c, [i for i in range(total) if client_of(i) == c]) for c in range(len(CLIENTS))]
    # spawn: a fresh interpreter per process, with its own database connection.
    with multiprocessing.get_context("spawn").Pool(len(CLIENTS)) as pool:
        made = sum(pool.map(_create, jobs))
    assert made == total, (made, total)


def existing(total: int) -> bool:
    """True when the database holds these agents, hashed at the configured cost."""
    from django.conf import settings

    from deskgate.accounts.models import User

    users = User.objects.filter(username__startswith="storm", level="agent")
    if users.count() != total:
        return False
    sample = users.order_by("pk").first()
    if sample is None:
        return False
    cost = settings.DESKGATE_PASSWORD_HASH
    wanted = f"m={cost['memory_cost']},t={cost['time_cost']},p={cost['parallelism']}"
    return wanted in sample.password
