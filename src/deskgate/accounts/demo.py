"""The demo data `make run` loads: idempotent, built with the product's own actions.

Apps above this layer add their own demo data with `also_load` (deskgate.provider
registers the demo's app, ProviderConfig.ready); `load` runs them after its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, MessageTemplate, User

DEMO_PASSWORD = "shift-start-coffee-42"  # noqa: S105  # printed for the demo on purpose

# More demo data from the apps above this layer: each loader is idempotent too, and
# answers the lines to print.
_more: list[Callable[[], list[str]]] = []


def also_load(loader: Callable[[], list[str]]) -> None:
    """Register a loader of more demo data (once, from an AppConfig.ready)."""
    if loader not in _more:
        _more.append(loader)


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    level: str
    email: str = ""
    work_phone: str = ""
    mfa: str = "off"
    active: bool = True
    note: str = ""


NORTHWIND = [
    DemoUser(
        "anna.admin",
        "Anna Admin",
        "admin",
        "anna.admin@northwind.example",
        note="admin: Users > User list",
    ),
    DemoUser("mikko.manager", "Mikko Manager", "manager", "mikko.manager@northwind.example"),
    DemoUser("tiina.lead", "Tiina Lead", "team_leader", "tiina.lead@northwind.example"),
    DemoUser(
        "aino.agent",
        "Aino Agent",
        "agent",
        "aino@northwind.example",
        "+358401110001",
        "email",
        note="agent with Email MFA",
    ),
    DemoUser(
        "sami.agent",
        "Sami Agent",
        "agent",
        "sami@northwind.example",
        "+358401110002",
        "sms",
        note="agent with SMS MFA",
    ),
    DemoUser(
        "kalle.agent",
        "Kalle Agent",
        "agent",
        "customer.service@northwind.example",
        "+358401110003",
        note="shares an email address",
    ),
    DemoUser(
        "liisa.agent",
        "Liisa Agent",
        "agent",
        "customer.service@northwind.example",
        "+358401110004",
        note="shares an email address",
    ),
    DemoUser(
        "olli.agent",
        "Olli Agent",
        "agent",
        "olli@northwind.example",
        "+35891234567",
        note="Work phone is a landline",
    ),
    DemoUser(
        "inka.agent",
        "Inka Agent",
        "agent",
        "inka@northwind.example",
        "+358401110006",
        active=False,
        note="Inactive",
    ),
    DemoUser("eero.agent", "Eero Agent", "agent", "eero@northwind.example", "+358401110007"),
    DemoUser("helmi.agent", "Helmi Agent", "agent", "helmi@northwind.example", "+358401110008"),
    DemoUser("juho.agent", "Juho Agent", "agent", "juho@northwind.example", "+358401110009"),
    DemoUser("mira.agent", "Mira Agent", "agent", "mira@northwind.example", "+358401110010"),
    DemoUser("niko.agent", "Niko Agent", "agent", "", "+358401110011"),
    DemoUser("pia.agent", "Pia Agent", "agent", "pia@northwind.example", ""),
]
LEGACY = [
    DemoUser(
        "leo.admin",
        "Leo Admin",
        "admin",
        "leo.admin@legacy.example",
        note="admin on release 11.8: MFA unavailable",
    ),
    DemoUser("lotta.agent", "Lotta Agent", "agent", "lotta@legacy.example", "+358401110020"),
]
TEMPLATES = [
    (
        "Callback confirmation",
        "sms",
        "{agent.workphone}",
        "",
        "Hello, this is {agent.name} from Northwind. I will call you back today.",
    ),
    (
        "Offer follow-up",
        "email",
        "{agent.email}",
        "Your offer from Northwind",
        "Hello,\n\nthank you for the call. Your offer is attached.\n\n{agent.name}",
    ),
    (
        "Appointment reminder",
        "sms",
        "Northwind",
        "",
        "Reminder: your appointment with Northwind is tomorrow. Reply STOP to opt out.",
    ),
]


def _client(name: str, release: str) -> Client:
    existing = Client.objects.filter(name=name).first()
    return existing or actions.create_client(name, release, "FI", by=OPERATOR)


def _users(client: Client, people: list[DemoUser]) -> list[tuple[DemoUser, bool]]:
    done = []
    for p in people:
        if User.objects.filter(username=p.username).exists():
            done.append((p, False))
            continue
        actions.create_user(
            client,
            actions.UserInput(
                username=p.username,
                full_name=p.full_name,
                level=p.level,
                email=p.email,
                work_phone=p.work_phone,
                mfa_method=p.mfa,
                is_active=p.active,
            ),
            by=OPERATOR,
            password=DEMO_PASSWORD,
            temporary_password=False,
        )
        done.append((p, True))
    return done


def load() -> list[str]:
    """Create what is missing of the demo; change nothing that exists. Answer a report."""
    northwind = _client("Northwind Contact", "25.4")
    legacy = _client("Legacy Telecom", "11.8")
    created = _users(northwind, NORTHWIND) + _users(legacy, LEGACY)
    for name, channel, sender, subject, body in TEMPLATES:
        if not MessageTemplate.objects.filter(client=northwind, name=name).exists():
            actions.save_template(
                northwind,
                None,
                actions.TemplateInput(
                    name=name, channel=channel, sender=sender, subject=subject, body=body
                ),
                by=OPERATOR,
            )
    lines = [f"Demo sign-ins (password for all: {DEMO_PASSWORD}):"]
    for person, _new in created:
        if person.note and person.active:
            lines.append(f"  {person.username:<14} {person.note}")
    for loader in _more:
        lines += loader()
    return lines
