"""Start-up checks: the delivery app's settings (`app_settings`) must make sense, and
configuration that would leave users without their codes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from deskgate.delivery.app_settings import app_settings


@register()
def delivery_settings_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="deskgate.E102") for problem in app_settings.check()]


@register()
def delivery_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.DESKGATE_DEMO or settings.DEBUG:
        return []
    found: list[CheckMessage] = []
    for name, missing in (
        ("EMAIL_URL", settings.EMAIL_BACKEND.endswith("OutboxEmailBackend")),
        ("SMS_URL", settings.DESKGATE_SMS is None),
    ):
        if missing:
            found.append(
                Warning(
                    f"{name} is not set: codes for that channel are kept in the development "
                    "outbox and reach nobody.",
                    hint=f"Set {name}, or DESKGATE_DEMO=1 for a demo.",
                    id=f"deskgate.W00{1 if name == 'EMAIL_URL' else 2}",
                )
            )
    return found
