from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named, described, refusal, user_of
from deskgate.accounts.models import Level, MfaMethod

# Option (as the command spells it) -> the user's field it changes.
FIELDS = {
    "full_name": "full_name",
    "level": "level",
    "email": "email",
    "work_phone": "work_phone",
    "mfa": "mfa_method",
}


class Command(BaseCommand):
    help = (
        "Change a user of a client: only the options given change; every rule is checked as "
        "on the user's page, and a refusal changes nothing. An empty --email or --work-phone "
        "clears it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--username", required=True)
        parser.add_argument("--full-name")
        parser.add_argument("--level", choices=Level.values)
        parser.add_argument("--email")
        parser.add_argument("--work-phone")
        parser.add_argument("--mfa", choices=MfaMethod.values)
        employment = parser.add_mutually_exclusive_group()
        employment.add_argument("--active", dest="active", action="store_true", default=None)
        employment.add_argument("--inactive", dest="active", action="store_false")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = user_of(client_named(opts["client"]), opts["username"])
        changes: dict[str, object] = {
            field: opts[option] for option, field in FIELDS.items() if opts[option] is not None
        }
        if opts["active"] is not None:
            changes["is_active"] = opts["active"]
        if not changes:
            raise CommandError(
                "refused: say what to change (--full-name, --level, --email, --work-phone, "
                "--mfa, --active or --inactive)."
            )
        try:
            saved = actions.change_user(user, by=OPERATOR, **changes)
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        user = saved.user
        self.stdout.write(f"Saved {described(user)}" + ".")
        for warning in saved.warnings:
            self.stderr.write(f"warning: {warning}")
