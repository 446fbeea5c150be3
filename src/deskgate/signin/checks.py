"""Start-up checks: the sign-in app's settings (`app_settings`) must make sense."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from deskgate.signin.app_settings import app_settings


@register()
def signin_settings_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="deskgate.E101") for problem in app_settings.check()]
