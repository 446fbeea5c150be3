from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from deskgate.apitokens import tokens
from deskgate.apitokens.management.commands._client import client_named


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


class Command(BaseCommand):
    help = "List a client's API tokens: name, scope, status, expiry and last use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        rows = tokens.tokens_of(client)
        if not rows:
            self.stdout.write(f"{client.name} has no API tokens.")
            return
        for t in rows:
            self.stdout.write(
                f"{t.pk}\t{t.name}\t{t.scope}\t{t.status}\t{t.hint}\u2026\t"
                f"expires={_when(t.expires_at)}\tlast_used={_when(t.last_used_at)}"
                f"{' from ' + t.last_used_ip if t.last_used_ip else ''}"
            )
