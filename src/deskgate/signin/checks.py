"""Start-up checks: the sign-in app's settings (`app_settings`) must make sense, and
passkeys need a host name."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from deskgate.signin import webauthn_rp
from deskgate.signin.app_settings import app_settings


@register()
def signin_settings_valid(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="deskgate.E101") for problem in app_settings.check()]


@register()
def passkeys_can_work(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """WebAuthn's RP ID is a domain name: on an IP address browsers refuse every passkey."""
    host = webauthn_rp.rp_id()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return []
    return [
        Warning(
            f"DESKGATE_BASE_URL names the IP address {host}: browsers refuse passkeys and "
            "security keys on an IP address (the WebAuthn RP ID must be a host name).",
            hint="Use a host name, e.g. DESKGATE_BASE_URL=http://localhost:8000 for the demo.",
            id="deskgate.W101",
        )
    ]
