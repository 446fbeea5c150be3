from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts.actions import imports
from deskgate.accounts.management.commands._base import client_named
from deskgate.accounts.models import User


class Command(BaseCommand):
    help = (
        "Write a client's users as CSV in the columns import-users reads (to --file, else "
        "to standard output). The file holds full email addresses and phone numbers: keep "
        "it as you keep the user list itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--file", help="where to write (default: standard output)")

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        users = User.objects.filter(client=client).order_by("full_name", "pk")
        rows = imports.export_rows(users.iterator(chunk_size=2000))
        if not opts["file"]:
            csv.writer(sys.stdout).writerows(rows)
            return
        path = Path(opts["file"])
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                csv.writer(out).writerows(rows)
        except OSError as exc:
            raise CommandError(f"refused: cannot write {path}: {exc.strerror}.") from None
        count = User.objects.filter(client=client).count()
        self.stdout.write(
            f"Wrote {count} user{'s' if count != 1 else ''} of {client.name} to {path}."
        )
