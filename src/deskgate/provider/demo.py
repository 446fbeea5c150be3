"""The demo's app, the "Agent desktop": registered by `make run` (`deskgate load-demo`).

`make app-demo` (tests/harness/app_demo.py) runs it on http://127.0.0.1:8001 as a real
relying party. It is a confidential app, as a web app with a server behind it is: it keeps
its secret in var/agent-desktop.json (mode 600), the one place the secret is ever shown,
since Deskgate stores only its hash. It uses PKCE too, as every app must.

Rerunning changes nothing. If the file is gone or no longer matches the registered app
(another database, a hand edit), the secret cannot be recovered: the app is registered
anew and the file rewritten.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from django.contrib.auth.hashers import check_password
from oauth2_provider.models import Application

from deskgate.accounts.audit import OPERATOR
from deskgate.conf import VAR_DIR
from deskgate.provider import registry

NAME = "Agent desktop"
URL = "http://127.0.0.1:8001"
CREDENTIALS_FILE = VAR_DIR / "agent-desktop.json"


def app_input() -> registry.AppInput:
    return registry.AppInput(
        name=NAME,
        redirect_uris=[f"{URL}/callback"],
        post_logout_redirect_uris=[f"{URL}/"],
        backchannel_logout_uri=f"{URL}/backchannel-logout",
    )


def _read(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return data
    return {}


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write the file readable by its owner only, from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    path.chmod(0o600)  # the file may have existed with a wider mode


def _matches(application: Application, saved: dict[str, Any]) -> bool:
    secret = saved.get("client_secret")
    return (
        saved.get("client_id") == application.client_id
        and isinstance(secret, str)
        and check_password(secret, application.client_secret)
    )


def load(path: Path | None = None) -> list[str]:
    """Register the Agent desktop unless it is registered and `path` holds its credentials;
    (re)write `path` (default var/agent-desktop.json). Answer the lines to print."""
    path = path or CREDENTIALS_FILE
    saved = _read(path)
    application = registry.find_app(NAME)
    if application is not None and _matches(application, saved):
        if saved.get("issuer") != registry.issuer():  # another PORT or DESKGATE_BASE_URL
            _write(path, {**saved, "issuer": registry.issuer()})
    else:
        if application is not None:
            registry.remove_app(application, by=OPERATOR)
        registered = registry.register_app(app_input(), by=OPERATOR)
        _write(
            path,
            {
                "issuer": registry.issuer(),
                "client_id": registered.application.client_id,
                "client_secret": registered.client_secret,
                "url": URL,
            },
        )
    return [f"Demo app: {NAME} (make app-demo) on {URL}/, its credentials in {_shown(path)}"]


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
