"""Start-up checks: the SSO app's settings (`app_settings`) must make sense."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from deskgate.sso.app_settings import app_settings


@register()
def sso_settings_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="deskgate.E104") for problem in app_settings.check()]
