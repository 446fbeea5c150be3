from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named, refusal


class Command(BaseCommand):
    help = (
        "Rename a client, or change its default country (how phone numbers typed without "
        "+country code are read, such as FI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name now")
        parser.add_argument("--name", help="the new name")
        parser.add_argument("--country", help="two-letter country code, such as FI or SE")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["name"] is None and opts["country"] is None:
            raise CommandError("refused: say what to change (--name or --country).")
        client = client_named(opts["client"])
        try:
            outcome = actions.change_client(
                client, by=OPERATOR, name=opts["name"], country=opts["country"]
            )
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        client = outcome.client
        if not outcome.changed:
            self.stdout.write(f"Nothing changed: {client.name}, country {client.default_country}.")
        else:
            self.stdout.write(f"Saved {client.name}: country {client.default_country}.")
