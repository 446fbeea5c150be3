from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deskgate.accounts.audit import OPERATOR
from deskgate.provider import registry


class Command(BaseCommand):
    help = "Remove an app (by client_id or name): its tokens stop working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="the app's client_id or name")

    def handle(self, *args: Any, **opts: Any) -> None:
        application = registry.find_app(opts["app"])
        if application is None:
            raise CommandError(f"refused: there is no app with client_id or name {opts['app']}.")
        registry.remove_app(application, by=OPERATOR)
        self.stdout.write(f"App {application.name} removed.")
