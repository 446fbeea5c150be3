from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from oauth2_provider.models import Application

from deskgate.provider.models import AppProfile


class Command(BaseCommand):
    help = "List the apps that sign in through Deskgate."

    def handle(self, *args: Any, **opts: Any) -> None:
        apps = Application.objects.order_by("name")
        if not apps:
            self.stdout.write("No apps are registered.")
            return
        profiles = {
            p.application_id: p
            for p in AppProfile.objects.prefetch_related("clients").filter(application__in=apps)
        }
        for app in apps:
            profile = profiles.get(app.pk)
            clients = ", ".join(c.name for c in profile.clients.all()) if profile else ""
            self.stdout.write(
                f"{app.name}\tclient_id={app.client_id}\t{app.client_type}\t"
                f"clients={clients or 'all'}\tredirect_uris={app.redirect_uris}"
                + (
                    f"\tbackchannel_logout_uri={profile.backchannel_logout_uri}"
                    if profile and profile.backchannel_logout_uri
                    else ""
                )
            )
