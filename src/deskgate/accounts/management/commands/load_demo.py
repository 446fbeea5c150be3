from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from deskgate.accounts import demo


class Command(BaseCommand):
    help = "Load the demo clients, users and templates; rerunning changes nothing."

    def handle(self, *args: Any, **opts: Any) -> None:
        for line in demo.load():
            self.stdout.write(line)
