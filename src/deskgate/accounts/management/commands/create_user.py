from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import described, refusal
from deskgate.accounts.models import Client, Level, MfaMethod


class Command(BaseCommand):
    help = (
        "Create a user of a client. The password is read from DESKGATE_PASSWORD or prompted "
        "for, never given as an argument; it is temporary: the user changes it at first sign-in. "
        "With --invite (and --email) no password is asked: the user gets an invitation by email "
        "to choose their own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--username", required=True)
        parser.add_argument("--full-name", required=True)
        parser.add_argument("--level", required=True, choices=[v for v in Level.values])
        parser.add_argument("--email", default="")
        parser.add_argument("--work-phone", default="")
        parser.add_argument(
            "--mfa",
            default="",
            choices=MfaMethod.values,
            help="Default: what the client's settings give new users of the level, else off.",
        )
        parser.add_argument("--inactive", action="store_true")
        parser.add_argument(
            "--invite",
            action="store_true",
            help="email the user an invitation to choose their own password (needs --email)",
        )

    def _password(self) -> str:
        password = os.environ.get("DESKGATE_PASSWORD")
        if password:
            return password
        if not sys.stdin.isatty():
            raise CommandError(
                "refused: set DESKGATE_PASSWORD, or run the command in a terminal to be asked."
            )
        first = getpass.getpass("Password (temporary): ")
        if first != getpass.getpass("Password again: "):
            raise CommandError("refused: the two passwords are not the same.")
        return first

    def handle(self, *args: Any, **opts: Any) -> None:
        client = Client.objects.filter(name__iexact=opts["client"]).first()
        if client is None:
            raise CommandError(f"refused: there is no client named {opts['client']}.")
        data = actions.UserInput(
            username=opts["username"],
            full_name=opts["full_name"],
            level=opts["level"],
            email=opts["email"],
            work_phone=opts["work_phone"],
            mfa_method=opts["mfa"],
            is_active=not opts["inactive"],
        )
        if opts["invite"] and not opts["email"].strip():
            raise CommandError("refused: an invitation goes to the user's Email: give --email.")
        password = None if opts["invite"] else self._password()
        try:
            saved = actions.create_user(client, data, by=OPERATOR, password=password)
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        user = saved.user
        if not opts["invite"]:
            self.stdout.write(f"Created {described(user)}" + ". The password is temporary.")
        else:
            self.stdout.write(f"Created {described(user)}.")
            try:
                sent = actions.invite(user, by=OPERATOR)
            except ValidationError as exc:
                raise CommandError(
                    f"refused: the user is created, but no invitation was sent: "
                    f"{' '.join(exc.messages)}"
                ) from None
            self.stdout.write(
                f"Invitation sent to {sent.destination}, valid {sent.hours} h "
                f"(until {sent.expires_at:%Y-%m-%d %H:%M} UTC)."
            )
        for warning in saved.warnings:
            self.stderr.write(f"warning: {warning}")
