"""Who may act on whom, and the only ways a page reaches another user's or a template's row.

`refusal` is the one answer to "may this person act on that client's users (or settings)";
every action, page guard and command asks it, never a condition of its own.

The getters answer "no such object" (404) alike for a missing id and for one that belongs
to another client, so ids reveal nothing across tenants (R10).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from deskgate.accounts.models import ADMIN_PAGE_LEVELS, AuditEvent, Level, MessageTemplate, User


class Refusal(StrEnum):
    """Why someone may not act; the value is what the page or command says."""

    OTHER_CLIENT = "You can only manage users of your own company."
    NO_ADMIN_PAGES = "Only admins and managers open the admin pages."
    ADMINS_ONLY = "Only an admin can change the company's settings."
    ADMIN_TARGET = "Only an admin can create or change an admin."


def refusal(
    actor: User, client_id: int, *, levels: Iterable[str] = (), admin_only: bool = False
) -> Refusal | None:
    """Why `actor` may not act on users of levels `levels` (as they are, or would become)
    of client `client_id`, or on its settings (`admin_only`); None when they may.

    Admins act on every user of their own client; managers on all but admins; team leaders
    and agents on no one. An inactive actor acts on no one, whatever their session says.
    """
    if actor.client_id != client_id:
        return Refusal.OTHER_CLIENT
    if admin_only and not (actor.is_active and actor.level == Level.ADMIN):
        return Refusal.ADMINS_ONLY
    if not actor.is_active or actor.level not in ADMIN_PAGE_LEVELS:
        return Refusal.NO_ADMIN_PAGES
    if actor.level != Level.ADMIN and Level.ADMIN in set(levels):
        return Refusal.ADMIN_TARGET
    return None


def require(
    actor: User | None, client_id: int, *, levels: Iterable[str] = (), admin_only: bool = False
) -> None:
    """`refusal` as an exception; `actor` None is the operator at the command line."""
    if actor is None:
        return
    reason = refusal(actor, client_id, levels=levels, admin_only=admin_only)
    if reason is not None:
        raise PermissionDenied(reason.value)


def may_change(actor: User, user: User) -> bool:
    """Whether the user page offers Save, Unlock and Revoke to `actor` for `user`."""
    return refusal(actor, user.client_id, levels=[user.level]) is None


def users_for_admin(admin: User) -> QuerySet[User]:
    """The users an admin or manager may see: those of their own client."""
    if not admin.can_open_admin_pages:
        return User.objects.none()
    return User.objects.filter(client_id=admin.client_id)


def get_user_for_admin(admin: User, user_id: object) -> User:
    try:
        pk = int(str(user_id))
    except ValueError:
        raise Http404("No such user.") from None
    user = users_for_admin(admin).select_related("client").filter(pk=pk).first()
    if user is None:
        raise Http404("No such user.")
    return user


def templates_for_admin(admin: User) -> QuerySet[MessageTemplate]:
    if not admin.can_open_admin_pages:
        return MessageTemplate.objects.none()
    return MessageTemplate.objects.filter(client_id=admin.client_id)


def get_template_for_admin(admin: User, template_id: object) -> MessageTemplate:
    try:
        pk = int(str(template_id))
    except ValueError:
        raise Http404("No such template.") from None
    template = templates_for_admin(admin).select_related("client").filter(pk=pk).first()
    if template is None:
        raise Http404("No such template.")
    return template


def audit_for_admin(admin: User) -> QuerySet[AuditEvent]:
    if not admin.can_open_admin_pages:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(client_id=admin.client_id)
