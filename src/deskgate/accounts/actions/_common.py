"""What every action module shares: the permission checks and the client's row lock."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import access
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import Client, User

RACED = _("Someone else changed these users at the same moment; reload and try again.")


def require_may_manage(by: Actor, client: Client, *levels: str) -> None:
    """Admins manage every user of their client; managers all but admins (R10).

    The one check of the action layer: `access.refusal` decides, for every path.
    """
    require_own_client(by, client)
    access.require(by.user, client.pk, levels=levels)


def require_own_client(by: Actor, client: Client) -> None:
    """An API token acts on its own client only (R10); the operator on any."""
    if by.client_id is not None and by.client_id != client.pk:
        raise PermissionDenied(access.Refusal.OTHER_CLIENT.value)


def require_may_manage_now(by: Actor, client: Client, *levels: str) -> None:
    """The same check with the actor as stored now, inside the write with the client's row
    locked: a demotion or deactivation of the actor since their page loaded counts."""
    require_own_client(by, client)
    if by.user is None:
        return
    stored = User.objects.filter(pk=by.user.pk).first()
    if stored is None:
        raise PermissionDenied(access.Refusal.NO_ADMIN_PAGES.value)
    access.require(stored, client.pk, levels=levels)


def lock_client(client: Client) -> Client:
    """The client's row, locked: every write of its users waits here, one after another,
    so a rule that counts across users (R4, the last admin) sees the writes before it."""
    return Client.objects.select_for_update().get(pk=client.pk)
