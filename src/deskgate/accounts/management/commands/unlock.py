from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named, refusal, user_of


class Command(BaseCommand):
    help = "End a user's sign-in lock (after wrong codes or passwords) before it runs out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--username", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        user = user_of(client_named(opts["client"]), opts["username"])
        try:
            was_locked = actions.unlock_user(user, by=OPERATOR)
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        if was_locked:
            self.stdout.write(f"Unlocked {user.label}: they can sign in again.")
        else:
            self.stdout.write(f"{user.label} was not locked; nothing changed.")
