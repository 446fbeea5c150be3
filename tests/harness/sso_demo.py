"""SSO in the demo, with no internet: the tests' OpenID Connect provider on loopback,
and Northwind Contact's SSO pointed at it.

Run `make sso-demo` in a second terminal while `make run` serves; Ctrl-C stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.oidc import TEST_CLIENT, OidcProvider, account

ROOT = Path(__file__).resolve().parent.parent.parent
PORT = int(os.environ.get("OIDC_PORT", "9400"))
DEMO_ACCOUNTS = [
    account("anna.admin", "anna.admin@northwind.example", name="Anna Admin"),
    account("aino.agent", "aino@northwind.example", name="Aino Agent"),
    account("sami.agent", "sami@northwind.example", name="Sami Agent", amr=["pwd", "mfa"]),
    account("stranger", "nobody@elsewhere.example", name="Nobody Stranger"),
]


def main() -> None:
    provider = OidcProvider([TEST_CLIENT], DEMO_ACCOUNTS, port=PORT).start()
    try:
        # The provider is plain http on loopback: allowed for this demo only (`make run`
        # allows it too when DESKGATE_DEMO=1).
        env = dict(
            os.environ,
            DESKGATE_SSO_SECRET=TEST_CLIENT["client_secret"],
            DESKGATE_SSO_ALLOW_HTTP_LOOPBACK="1",
        )
        subprocess.run(  # noqa: S603  # our own console script, fixed arguments
            [
                str(ROOT / ".venv/bin/deskgate"),
                "configure-sso",
                "--client",
                "Northwind Contact",
                "--issuer",
                provider.issuer,
                "--client-id",
                TEST_CLIENT["client_id"],
            ],
            check=True,
            env=env,
        )
        port = os.environ.get("PORT", "8000")
        print(f"\nOpenID Connect provider running at {provider.issuer} (Ctrl-C stops it).")
        print(f"Sign in with SSO: http://127.0.0.1:{port}/signin/sso/northwind-contact/")
        print(
            "At the provider's Sign-in page type a login, any password: "
            + ", ".join(a["login"] for a in DEMO_ACCOUNTS)
        )
        print(
            "aino.agent has Email MFA and sami.agent SMS MFA: through SSO neither is asked "
            "for a code. 'stranger' has no account and is refused."
        )
        sys.stdout.flush()
        while provider.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        provider.stop()


if __name__ == "__main__":
    main()
