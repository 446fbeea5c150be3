from __future__ import annotations

from django.core.management.base import CommandError

from deskgate.accounts.models import Client


def client_named(name: str) -> Client:
    client = Client.objects.filter(name__iexact=name).first()
    if client is None:
        raise CommandError(f"refused: there is no client named {name}.")
    return client
