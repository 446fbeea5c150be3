from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def deskgate(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "outbox_enabled": settings.DESKGATE_OUTBOX_PAGE,
        "admin_pages": bool(
            user is not None and user.is_authenticated and user.can_open_admin_pages
        ),
    }
