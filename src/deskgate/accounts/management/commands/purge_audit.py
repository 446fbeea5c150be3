from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.management.commands._base import client_named


class Command(BaseCommand):
    help = (
        "Remove audit events older than each client's retention (default 365 days). Run it "
        "daily from the scheduler; each client's removal leaves one event saying how many. "
        "Without --client it also removes the records of sessions that ended on their own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", help="only this client (default: every client)")

    def handle(self, *args: Any, **opts: Any) -> None:
        clients = [client_named(opts["client"])] if opts["client"] else None
        for name, removed in actions.purge_audit(by=OPERATOR, clients=clients):
            self.stdout.write(f"{name}: {removed} event{'s' if removed != 1 else ''} removed.")
        if clients is None:
            gone = actions.forget_ended_sessions(by=OPERATOR)
            self.stdout.write(f"Ended sessions: {gone} record{'s' if gone != 1 else ''} removed.")
