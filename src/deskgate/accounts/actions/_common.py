"""What every action module shares: the client's row lock. Who may act is `permissions`."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from deskgate.accounts.models import Client

RACED = _("Someone else changed these users at the same moment; reload and try again.")


def lock_client(client: Client) -> Client:
    """The client's row, locked: every write of its users waits here, one after another,
    so a rule that counts across users (R4, the last admin) sees the writes before it."""
    return Client.objects.select_for_update().get(pk=client.pk)
