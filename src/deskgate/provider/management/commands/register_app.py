from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import refusal
from deskgate.provider import registry


class Command(BaseCommand):
    help = (
        "Register an app that signs in through Deskgate (OpenID Connect, code flow with PKCE). "
        "Prints issuer=, client_id= and, for a confidential app, client_secret= (shown once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
        parser.add_argument(
            "--post-logout-redirect-uri", action="append", default=[], dest="post_logout"
        )
        parser.add_argument("--backchannel-logout-uri", default="")
        parser.add_argument(
            "--public", action="store_true", help="an app that cannot keep a secret (PKCE only)"
        )
        parser.add_argument(
            "--client",
            action="append",
            default=[],
            dest="clients",
            help="open the app to this client only (repeat for several); default: every client",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        data = registry.AppInput(
            name=opts["name"],
            redirect_uris=opts["redirect_uris"],
            post_logout_redirect_uris=opts["post_logout"],
            backchannel_logout_uri=opts["backchannel_logout_uri"],
            public=opts["public"],
            clients=opts["clients"],
        )
        try:
            registered = registry.register_app(data, by=OPERATOR)
        except ValidationError as exc:
            raise refusal(exc) from None
        self.stdout.write(f"issuer={registry.issuer()}")
        self.stdout.write(f"client_id={registered.application.client_id}")
        if registered.client_secret is not None:
            self.stdout.write(f"client_secret={registered.client_secret}")
