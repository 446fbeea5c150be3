from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from deskgate.signin import reset_delivery


class Command(BaseCommand):
    help = (
        "Send the password reset mail that is due now (the web processes do this on their "
        "own after each request; run it from cron to cover a process that died mid-way)."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        wait = reset_delivery.deliver_pending()
        if wait is None:
            self.stdout.write("Reset mail queue: empty.")
        else:
            self.stdout.write(f"Reset mail queue: more is due in {wait:.0f} seconds.")
