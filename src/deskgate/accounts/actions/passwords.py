"""Actions on passwords: an admin sets a temporary one, a user chooses their own.

What a password must be is `deskgate.accounts.passwords` (Django's validators, as
configured in settings); these actions ask it and write.
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from deskgate.accounts import audit, hooks, permissions, rules, sessions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, User


def check_password(user: User, raw: str) -> None:
    """Refuse, keyed by the password field, a password the validators refuse for `user`."""
    try:
        password_validation.validate_password(raw, user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None


def set_password(user: User, raw: str, *, by: Actor, temporary: bool = False) -> None:
    """Set a password: temporary when an admin sets it, final when the user chooses it.

    A user's own password is set by their own pages (after the current one, or a reset
    link), never as a temporary one through the admin pages: a stolen session would do it.
    """
    if by.user is not None and by.user.pk == user.pk and temporary:
        raise ValidationError({"password": [rules.NOT_ON_ONESELF_HERE]})
    if by.user is not None and by.user.pk != user.pk:
        permissions.check(by, permissions.Op.USER_PASSWORD, user.client_id, user.level)
    check_password(user, raw)
    with transaction.atomic():
        user.set_password(raw)
        user.must_change_password = temporary
        user.save(update_fields=["password", "must_change_password", "updated_at"])
        hooks.sign_in().factor_changed([user])
        sessions.end_in_apps(user)  # tokens revoked, apps told (back-channel logout)
        audit.record(
            AuditAction.USER_PASSWORD_SET
            if by.user is None or by.user.pk != user.pk
            else AuditAction.USER_PASSWORD_CHANGED,
            client=user.client,
            by=by,
            subject=user,
            summary=(
                f"Temporary password set for {user.label}"
                if temporary
                else f"Password of {user.label} changed"
            ),
        )
