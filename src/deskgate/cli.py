"""The operator command `deskgate`: Deskgate's own commands plus Django's (migrate, ...)."""

from __future__ import annotations

import os
import sys

# Our commands are spelled with hyphens on the command line, as operators expect.
OWN_COMMANDS = {
    "create-client",
    "create-user",
    "configure-sso",
    "load-demo",
    "deliver-reset-mail",
    "register-app",
    "list-apps",
    "remove-app",
    "rotate-signing-key",
    "create-api-token",
    "list-api-tokens",
    "revoke-api-token",
    "update-user",
    "unlock",
    "list-users",
    "set-release",
    "set-client",
    "import-users",
    "export-users",
    "purge-audit",
    "send-alerts",
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deskgate.settings")
    if len(argv) > 1 and argv[1] in OWN_COMMANDS:
        argv[1] = argv[1].replace("-", "_")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
