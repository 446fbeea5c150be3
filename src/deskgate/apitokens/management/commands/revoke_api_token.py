from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts.audit import OPERATOR
from deskgate.apitokens import tokens
from deskgate.apitokens.management.commands._client import client_named


class Command(BaseCommand):
    help = "Revoke a client's API token by its name: requests with it are refused at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--name", required=True, help="the token's name")

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        token = tokens.tokens_of(client).filter(name=opts["name"], revoked_at=None).first()
        if token is None:
            raise CommandError(f"refused: {client.name} has no live token named {opts['name']}.")
        tokens.revoke(token, by=OPERATOR)
        self.stdout.write(f"Revoked {token.name} of {client.name}.")
