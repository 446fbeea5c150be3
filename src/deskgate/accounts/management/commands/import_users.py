from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts.actions import imports
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named, refusal


class Command(BaseCommand):
    help = (
        "Create and change a client's users from a CSV file with the columns username, "
        "full_name, level, email, work_phone, mfa, employment (UTF-8, comma or semicolon). "
        "Each row is checked by every rule; the file is applied whole, or not at all when a "
        "row is refused. --dry-run only says what would happen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's name")
        parser.add_argument("--file", required=True, help="the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check, change nothing")
        parser.add_argument(
            "--invite",
            action="store_true",
            help="send each new user with an Email an invitation to choose their password",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        client = client_named(opts["client"])
        path = Path(opts["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"refused: cannot read {path}: {exc.strerror}.") from None
        try:
            rows = imports.read_csv(data)
            result = imports.import_users(
                client,
                rows,
                by=OPERATOR,
                dry_run=opts["dry_run"],
                source=path.name,
                invite=opts["invite"],
            )
        except imports.FileError as exc:
            raise CommandError(f"refused: {exc}") from None
        except (ValidationError, PermissionDenied) as exc:
            raise refusal(exc) from None
        for row in result.rows:
            what = row.outcome.value
            detail = "; ".join(row.details)
            self.stdout.write(
                f"line {row.line}: {row.username}: {what}{': ' + detail if detail else ''}"
            )
            for warning in row.warnings:
                self.stdout.write(f"line {row.line}: {row.username}: warning: {warning}")
        self.stdout.write(result.summary)
        if result.refused:
            raise CommandError(f"refused: {imports.refused_summary(result)}")
        self.stdout.write("Dry run: nothing changed." if opts["dry_run"] else "Applied.")
        if opts["invite"] and result.applied:
            self.stdout.write(f"Invitations sent: {result.invited}.")
            for username, why in result.not_invited:
                self.stdout.write(f"{username}: no invitation: {why}")
