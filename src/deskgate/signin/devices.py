"""Remember device for 30 days: a signed HttpOnly cookie naming a server-side record.

The record is what counts: revoking it, or changing the user's method, destination or
password (which deletes it), ends the remembering whatever the browser still holds.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from deskgate import rows
from deskgate.accounts import audit
from deskgate.accounts.models import AuditAction, User
from deskgate.http.actors import client_ip
from deskgate.signin.app_settings import app_settings
from deskgate.signin.codes import token_hash
from deskgate.signin.models import RememberedDevice

COOKIE = "deskgate_device"
SALT = "deskgate.remembered-device"


def _days() -> int:
    return app_settings.REMEMBER_DEVICE_DAYS


def offered(user: User) -> bool:
    return user.client.remember_device_enabled


def remember(response: HttpResponse, request: HttpRequest, user: User) -> None:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    # One fixed INSERT, without the ORM's compiler (issue 17): on the code step's path.
    rows.insert(
        RememberedDevice(
            user=user,
            token_hash=token_hash(token),
            label=request.META.get("HTTP_USER_AGENT", "")[:200],
            ip=client_ip(request),
            created_at=now,
            expires_at=now + timedelta(days=_days()),
        )
    )
    response.set_signed_cookie(
        COOKIE,
        f"{user.pk}:{token}",
        salt=SALT,
        max_age=_days() * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def is_remembered(request: HttpRequest, user: User) -> bool:
    """True when this browser carries a live remembered-device record of this user."""
    if not offered(user):
        return False
    try:
        value = request.get_signed_cookie(COOKIE, salt=SALT, max_age=_days() * 86400)
    except (KeyError, signing.BadSignature):
        return False
    if not isinstance(value, str):
        return False
    user_id, _, token = value.partition(":")
    if user_id != str(user.pk) or not token:
        return False
    now = timezone.now()
    return bool(
        RememberedDevice.objects.filter(
            user=user, token_hash=token_hash(token), expires_at__gt=now
        ).update(last_used_at=now, ip=client_ip(request))
    )


def revoke_all(user: User, *, by: audit.Actor) -> int:
    count, _ = RememberedDevice.objects.filter(user=user).delete()
    if count:
        audit.record(
            AuditAction.DEVICES_REVOKED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{count} remembered device{'s' if count != 1 else ''} of {user.label} revoked",
            count=count,
        )
    return count


def forget_one(user: User, device_id: int, /, *, by: audit.Actor) -> bool:
    """Forget one remembered device of `user` (their account page); False when no device
    of theirs has that id (gone already, or someone else's: the same answer)."""
    device = RememberedDevice.objects.filter(user=user, pk=device_id).first()
    if device is None:
        return False
    # The DELETE decides: of two requests at once, one deletes the row and records it.
    count, _ = RememberedDevice.objects.filter(user=user, pk=device_id).delete()
    if count:
        with translation.override("en"):  # the trail's summaries are English, stored once
            name = device.name
        audit.record(
            AuditAction.DEVICES_REVOKED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Remembered device of {user.label} forgotten ({name})",
            count=count,
        )
    return bool(count)


def active_for(user: User) -> list[RememberedDevice]:
    return list(
        RememberedDevice.objects.filter(user=user, expires_at__gt=timezone.now()).order_by(
            "-created_at"
        )
    )
