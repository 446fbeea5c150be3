"""Who may act on whom, and the only ways a page reaches another user's or a template's row.

Who may do what to whom is `permissions` (the one table); the getters below start from the
users, templates and events the table lets the reader see.

The getters answer "no such object" (404) alike for a missing id and for one that belongs
to another client, so ids reveal nothing across tenants (R10).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from deskgate.accounts import permissions
from deskgate.accounts.models import AuditEvent, MessageTemplate, User
from deskgate.accounts.permissions import Op


def users_for_admin(admin: User) -> QuerySet[User]:
    """The users an admin or manager may see: those of their own client."""
    if not permissions.allowed(admin, Op.USERS_VIEW):
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
    if not permissions.allowed(admin, Op.TEMPLATES_EDIT):
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
    if not permissions.allowed(admin, Op.AUDIT_VIEW):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(client_id=admin.client_id)
