"""Start-up checks: the accounts app's settings (`app_settings`) must make sense."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from deskgate.accounts.app_settings import app_settings


@register()
def accounts_settings_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="deskgate.E103") for problem in app_settings.check()]
