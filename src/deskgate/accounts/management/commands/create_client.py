from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import refusal


class Command(BaseCommand):
    help = "Create a client (a contact-center company) on a release such as 25.4 or 11.8."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--release", required=True, help="e.g. 25.4 (MFA needs 25.x or later)")
        parser.add_argument(
            "--country", default="FI", help="default country for phone numbers typed without +"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            client = actions.create_client(
                opts["name"], opts["release"], opts["country"], by=OPERATOR
            )
        except ValidationError as exc:
            raise refusal(exc) from None
        mfa = "MFA available" if client.supports_mfa else client.mfa_unavailable_reason
        self.stdout.write(f"Created client {client.name} (release {client.release}; {mfa}).")
