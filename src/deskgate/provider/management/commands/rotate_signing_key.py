from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from jwcrypto import jwk

from deskgate.conf import ConfigError
from deskgate.provider import keys


class Command(BaseCommand):
    help = (
        "Make a new signing key for ID tokens; the old one stays published in the JWKS for "
        "the grace period (DESKGATE_OIDC_KEY_GRACE_HOURS). Restart every node afterwards."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            ring = keys.rotate()
        except ConfigError as exc:
            raise CommandError(f"refused: {exc}") from None
        kid = jwk.JWK.from_pem(ring.current.encode()).thumbprint()
        self.stdout.write(f"kid={kid}")
        self.stdout.write(
            f"New signing key in {ring.folder}; {len(ring.retired)} retired key(s) still "
            "published. Restart every node so that they sign with it."
        )
