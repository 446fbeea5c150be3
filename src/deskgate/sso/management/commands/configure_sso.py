from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import refusal
from deskgate.accounts.models import Client
from deskgate.sso import flows


class Command(BaseCommand):
    help = (
        "Set up a client's SSO (OpenID Connect). The client secret is read from "
        "DESKGATE_SSO_SECRET, never given as an argument. Prints the redirect URI to register."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--issuer", required=True, help="the provider's issuer URL")
        parser.add_argument("--client-id", required=True)
        parser.add_argument(
            "--mandatory",
            action="store_true",
            help="users of this client cannot sign in with a password",
        )
        parser.add_argument(
            "--require-idp-mfa",
            action="store_true",
            help="ask for our code unless the provider says it did MFA",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        client = Client.objects.filter(name__iexact=opts["client"]).first()
        if client is None:
            raise CommandError(f"refused: there is no client named {opts['client']}.")
        existing = flows.config_for(client)
        secret = os.environ.get("DESKGATE_SSO_SECRET", "")
        if not secret and existing is None:
            raise CommandError("refused: set DESKGATE_SSO_SECRET to the client secret.")
        data = flows.SsoInput(
            issuer=opts["issuer"],
            client_id=opts["client_id"],
            secret=secret,
            mandatory=opts["mandatory"],
            require_idp_mfa=opts["require_idp_mfa"],
        )
        try:
            flows.configure(client, data, by=OPERATOR)
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        self.stdout.write(
            f"SSO of {client.name} saved: the provider at {data.issuer} answers and accepts "
            "the client id and secret." + (" SSO is mandatory." if data.mandatory else "")
        )
        self.stdout.write(f"Register this redirect URI at the provider: {flows.redirect_uri()}")
        self.stdout.write(f"Users sign in at: {flows.company_url(client)}")
