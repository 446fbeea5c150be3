from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from deskgate.delivery.app_settings import app_settings


def deskgate(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        # Shown beside listed times ("Times in Europe/Helsinki").
        "time_zone_name": timezone.get_current_timezone_name(),
        "outbox_enabled": app_settings.OUTBOX_PAGE,
        "admin_pages": bool(
            user is not None and user.is_authenticated and user.can_open_admin_pages
        ),
    }
