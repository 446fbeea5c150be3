from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from deskgate.accounts import alerts


class Command(BaseCommand):
    help = (
        "Email each client's admins the alerts waiting for them (repeated locks, send limits "
        "reached, many SSO refusals): at most one email per client per 15 minutes. Run it "
        "from cron every few minutes; safe to run on several machines at once."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        sent = alerts.send_due()
        if not sent:
            self.stdout.write("Alerts: nothing to send now.")
        for name, count in sorted(sent.items()):
            self.stdout.write(f"{name}: {count} alert{'s' if count != 1 else ''} emailed.")
