from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named, refusal


class Command(BaseCommand):
    help = (
        "Record the release a client now runs, such as 25.4. A client that upgrades from 11.x "
        "can then use MFA; a move back to 11.x turns every user's MFA method Off (an audit "
        "event each) and tells the client's admins by email."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--release", required=True, help="major.minor, such as 25.4")

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        was = client.release
        try:
            outcome = actions.change_client(client, by=OPERATOR, release=opts["release"])
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        client = outcome.client
        if not outcome.changed:
            self.stdout.write(f"{client.name} is already on release {client.release}.")
            return
        self.stdout.write(f"{client.name} moved from release {was} to {client.release}.")
        if client.supports_mfa and was != client.release:
            self.stdout.write("MFA is available: admins can now choose Email or SMS for users.")
        n = len(outcome.mfa_turned_off)
        if not client.supports_mfa:
            self.stdout.write(
                f"MFA is not available on {client.release}: {n} user{'s' if n != 1 else ''}'"
                " MFA set to Off; the client's admins were told by email."
            )
