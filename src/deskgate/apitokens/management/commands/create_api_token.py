from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import refusal
from deskgate.apitokens import tokens
from deskgate.apitokens.management.commands._client import client_named
from deskgate.apitokens.models import Scope


class Command(BaseCommand):
    help = (
        "Create an API token for a client: scim (a directory provisions users), read or write "
        "(the REST API). Prints token=... once; only its hash is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--name", required=True, help="a label, such as Entra ID")
        parser.add_argument("--scope", required=True, choices=Scope.values)
        parser.add_argument(
            "--expires-days", type=int, default=None, help="days until it expires (default: never)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        try:
            issued = tokens.issue(
                client,
                name=opts["name"],
                scope=opts["scope"],
                expires_days=opts["expires_days"],
                by=OPERATOR,
            )
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        self.stdout.write(f"token={issued.secret}")
