from __future__ import annotations

from django.http import HttpRequest

from deskgate.delivery.app_settings import app_settings


def deskgate(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "outbox_enabled": app_settings.OUTBOX_PAGE,
        "admin_pages": bool(
            user is not None and user.is_authenticated and user.can_open_admin_pages
        ),
    }
