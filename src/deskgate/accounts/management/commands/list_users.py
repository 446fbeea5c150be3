from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts import contact
from deskgate.accounts.management.commands._base import client_named
from deskgate.accounts.models import Level, MfaMethod, User

COLUMNS = ("username", "full_name", "level", "mfa", "email", "work_phone", "employment")


class Command(BaseCommand):
    help = (
        "List a client's users, by name: a table, or JSON lines with --json. Work phones are "
        "masked (+358 •• ••• ••67), as in the audit trail: the output may end up in a log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        users = User.objects.filter(client=client).order_by("full_name", "pk")
        rows = [
            {
                "username": u.username,
                "full_name": u.full_name,
                "level": u.level,
                "mfa": u.mfa_method if client.supports_mfa else "unavailable",
                "email": u.email,
                "work_phone": contact.mask_phone(u.work_phone) if u.work_phone else "",
                "employment": "active" if u.is_active else "inactive",
            }
            for u in users.iterator(chunk_size=2000)
        ]
        if opts["json"]:
            for row in rows:
                self.stdout.write(json.dumps(row, ensure_ascii=False))
            return
        shown = [
            {
                **row,
                "level": str(Level(row["level"]).label),
                "mfa": str(MfaMethod(row["mfa"]).label)
                if row["mfa"] in MfaMethod.values
                else "Unavailable",
                "employment": row["employment"].capitalize(),
            }
            for row in rows
        ]
        headings = {c: c.replace("_", " ").capitalize() for c in COLUMNS}
        widths = {c: max([len(headings[c])] + [len(str(r[c])) for r in shown]) for c in COLUMNS}
        line = "  ".join(f"{{:{widths[c]}}}" for c in COLUMNS)
        self.stdout.write(line.format(*(headings[c] for c in COLUMNS)).rstrip())
        for row in shown:
            self.stdout.write(line.format(*(row[c] for c in COLUMNS)).rstrip())
        self.stdout.write(f"{len(rows)} user{'s' if len(rows) != 1 else ''} in {client.name}.")
