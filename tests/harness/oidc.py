"""A real OpenID Connect provider on loopback: panva's oidc-provider (tests/oidc/provider.mjs).

    provider = OidcProvider(clients=[TEST_CLIENT], accounts=TEST_ACCOUNTS)
    provider.add_account("maria", "maria@northwind.example", amr=["pwd", "otp"])  # before start
    provider.start()                 # ~0.3 s; raises OidcProviderError with its stderr
    provider.issuer                  # "http://127.0.0.1:<port>"
    ...
    provider.stop()                  # SIGTERM, waits; no process is left behind

Node.js and the npm package must be installed first: `npm ci --prefix tests/oidc`.

How a browser signs in there (oidc-provider's development login page, title "Sign-in"):
a text box with the placeholder "Enter any login" (name "login"), a password box with the
placeholder "and password" (name "password"; required by the form, but any value will do),
and the button "Sign-in"; the link "[ Cancel ]" ends the sign-in with error=access_denied.
The boxes have no <label>: find them by placeholder. There is no consent page. A login that
is no account's login (nor sub) also ends with error=access_denied at the redirect URI.
The provider keeps a session cookie: a second sign-in in the same browser context skips the
form unless the request says prompt=login.

Redirect URIs: the test client is registered as a native application (RFC 8252 7.3) with
http://localhost/signin/sso/callback/ and http://127.0.0.1/signin/sso/callback/; for such
clients oidc-provider accepts a loopback redirect URI on any port, so the live server's
http://localhost:<port>/signin/sso/callback/ matches whatever port it gets. Path, host and
scheme must still be exactly as registered.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.harness.net import LOOPBACK

__all__ = [
    "CALLBACK_PATH",
    "INSTALL_HINT",
    "OIDC_DIR",
    "TEST_ACCOUNTS",
    "TEST_CLIENT",
    "OidcProvider",
    "OidcProviderError",
    "find_node",
    "oidc_missing",
]

ROOT = Path(__file__).resolve().parents[2]
OIDC_DIR = ROOT / "tests" / "oidc"
SCRIPT = OIDC_DIR / "provider.mjs"
INSTALL_HINT = "Node.js (node) and the npm packages: run `npm ci --prefix tests/oidc`"

CALLBACK_PATH = "/signin/sso/callback/"  # the product's sso:callback

# The client the tests register at their provider (and enter in Deskgate's SSO settings).
TEST_CLIENT: dict[str, Any] = {
    "client_id": "deskgate-test",
    "client_secret": "test-secret-0123456789",
    "redirect_uris": [f"http://localhost{CALLBACK_PATH}", f"http://{LOOPBACK}{CALLBACK_PATH}"],
    "application_type": "native",  # loopback redirect URIs match on any port
    "token_endpoint_auth_method": "client_secret_basic",
}


def account(
    login: str,
    email: str | None,
    *,
    sub: str | None = None,
    email_verified: bool = True,
    name: str | None = None,
    amr: Iterable[str] | None = None,
    acr: str | None = None,
    **claims: Any,
) -> dict[str, Any]:
    """One account in provider.mjs's form; its sub defaults to "sub-<login>"."""
    values: dict[str, Any] = dict(claims)
    if email is not None:
        values["email"] = email
        values["email_verified"] = email_verified
    if name is not None:
        values["name"] = name
    if amr is not None:
        values["amr"] = list(amr)
    if acr is not None:
        values["acr"] = acr
    return {"sub": sub or f"sub-{login}", "login": login, "claims": values}


TEST_ACCOUNTS: list[dict[str, Any]] = [
    account("anna", "anna@northwind.example", name="Anna Virtanen"),
    account("sami", "sami@northwind.example", name="Sami Korhonen", amr=["pwd", "mfa"]),
    account("unverified", "eve@northwind.example", email_verified=False, name="Eve Example"),
    account("stranger", "nobody@elsewhere.example", name="Nobody Stranger"),
    account("shared", "kalle@shared.example", name="Kalle Shared"),
]


class OidcProviderError(RuntimeError):
    """Node.js or oidc-provider is missing, or the provider did not start: the message
    says which, with what the provider wrote to stderr."""


class OidcProviderTimeout(OidcProviderError):
    """The provider said nothing in `startup_timeout` seconds."""


def find_node() -> str | None:
    return shutil.which("node")


def oidc_missing(oidc_dir: Path = OIDC_DIR) -> str | None:
    """What is missing to run the provider (for an error or a skip), or None."""
    if find_node() is None:
        return f"node is not on PATH; install {INSTALL_HINT}"
    if not (oidc_dir / "node_modules" / "oidc-provider" / "package.json").is_file():
        return f"{oidc_dir / 'node_modules'} has no oidc-provider; run `npm ci --prefix tests/oidc`"
    return None


class OidcProvider:
    """tests/oidc/provider.mjs in a subprocess, configured from a JSON file in a temp dir.

    Clients and accounts are fixed at start: give them to the constructor or add them with
    `add_client()`/`add_account()` before `start()`. `port=0` (the default) lets the
    provider take a free port itself, so no other process can take it first; the issuer is
    then known after `start()`.
    """

    def __init__(
        self,
        clients: Iterable[Mapping[str, Any]] = (),
        accounts: Iterable[Mapping[str, Any]] = (),
        *,
        port: int = 0,
        conform_id_token_claims: bool = True,
        # Node starts in well under a second when idle, but on a 2-core CI machine with
        # Chromium and PostgreSQL busy one start once took more than 20 s, and twice (the
        # disk slow with PostgreSQL's checkpoints) never printed READY: `start` tries again.
        startup_timeout: float = 60,
        stop_timeout: float = 5,
        oidc_dir: Path = OIDC_DIR,
    ) -> None:
        self.clients: list[dict[str, Any]] = [copy.deepcopy(dict(c)) for c in clients]
        self.accounts: list[dict[str, Any]] = [copy.deepcopy(dict(a)) for a in accounts]
        self.port = port
        self.conform_id_token_claims = conform_id_token_claims
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.oidc_dir = oidc_dir
        self.directory: Path | None = None
        self.startup_seconds: float | None = None  # how long the last start() took
        self._issuer: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._discovery: dict[str, Any] | None = None
        self.returncode: int | None = None  # the provider's exit status after stop()

    # -- configuration (before start) ---------------------------------------------------------

    def _before_start(self, what: str) -> None:
        if self._proc is not None:
            raise OidcProviderError(
                f"{what} after start(): the provider reads its clients and "
                "accounts once; start another OidcProvider instead"
            )

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        **metadata: Any,
    ) -> dict[str, Any]:
        """Register a client; metadata is any other OIDC client metadata, e.g.
        token_endpoint_auth_method="client_secret_post" or application_type="native"."""
        self._before_start("add_client()")
        client = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": list(redirect_uris),
            **metadata,
        }
        self.clients.append(client)
        return client

    def add_account(self, login: str, email: str | None, **kwargs: Any) -> dict[str, Any]:
        """Add an account: see `account()` for the keywords (sub, email_verified, name, amr,
        acr, and any other claim)."""
        self._before_start("add_account()")
        entry = account(login, email, **kwargs)
        self.accounts.append(entry)
        return entry

    def config(self) -> dict[str, Any]:
        """What provider.mjs reads."""
        return {
            "port": self.port,
            "host": LOOPBACK,
            "clients": self.clients,
            "accounts": self.accounts,
            "conform_id_token_claims": self.conform_id_token_claims,
        }

    # -- addresses -----------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self._issuer is None:
            raise OidcProviderError("the provider is not started: no issuer yet")
        return self._issuer

    def url(self, path: str) -> str:
        return self.issuer + path

    @property
    def discovery(self) -> dict[str, Any]:
        """The provider's /.well-known/openid-configuration (read at start)."""
        if self._discovery is None:
            raise OidcProviderError("the provider is not started")
        return self._discovery

    def client(self, client_id: str = TEST_CLIENT["client_id"]) -> dict[str, Any]:
        for client in self.clients:
            if client["client_id"] == client_id:
                return client
        raise KeyError(client_id)

    def account(self, login: str) -> dict[str, Any]:
        for entry in self.accounts:
            if entry["login"] == login:
                return entry
        raise KeyError(login)

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> OidcProvider:
        """Start node and wait for it; a start that prints no READY line in time is stopped
        and tried once more (an error it reports is not)."""
        try:
            return self._start()
        except OidcProviderTimeout:
            return self._start()

    def _start(self) -> OidcProvider:
        if self._proc is not None:
            return self
        missing = oidc_missing(self.oidc_dir)
        if missing:
            raise OidcProviderError(f"cannot start the OpenID Connect provider: {missing}")
        node = find_node()
        assert node is not None
        began = time.monotonic()
        atexit.register(self.stop)  # in case the test run ends without calling stop()
        try:
            self.directory = Path(tempfile.mkdtemp(prefix="deskgate-oidc-"))
            config = self.directory / "config.json"
            config.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
            with (
                (self.directory / "stdout.txt").open("wb") as out,
                (self.directory / "stderr.txt").open("wb") as err,
            ):
                self._proc = subprocess.Popen(  # noqa: S603 - node, our script, our config
                    [node, str(self.oidc_dir / SCRIPT.name), str(config)],
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env={**os.environ, "OIDC_PROVIDER_EXIT_WITH_PARENT": "1"},
                    start_new_session=True,  # Ctrl-C on pytest reaches pytest, which stops it
                )
            self._issuer = self._wait_ready()
            self._discovery = self._wait_discovery()
        except BaseException:
            self.stop()  # an OidcProviderError already carries the provider's stderr
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _check_alive(self, waiting_for: str) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise OidcProviderError(
                f"the OpenID Connect provider exited with {self._proc.returncode} while "
                f"waiting for {waiting_for}:\n{self.stderr()}"
            )

    def _deadline_passed(self, deadline: float, waiting_for: str) -> None:
        if time.monotonic() > deadline:
            raise OidcProviderTimeout(
                f"the OpenID Connect provider gave no {waiting_for} in "
                f"{self.startup_timeout} s:\n{self.stderr()}"
            )

    def _wait_ready(self) -> str:
        assert self.directory is not None
        stdout = self.directory / "stdout.txt"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            for line in stdout.read_text("utf-8", "replace").splitlines():
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
            self._check_alive("its READY line")
            self._deadline_passed(deadline, "READY line")
            time.sleep(0.02)

    def _wait_discovery(self) -> dict[str, Any]:
        url = f"{self._issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http on loopback
                    doc: dict[str, Any] = json.load(response)
                    return doc
            except (urllib.error.URLError, OSError, ValueError):
                pass
            self._check_alive(url)
            self._deadline_passed(deadline, f"answer at {url}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, wait (SIGKILL after stop_timeout), reap; delete the temp dir. Safe to
        call at any time, also twice or after a failed start."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.returncode = proc.returncode
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        self._issuer = None
        self._discovery = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stderr(self, lines: int = 40) -> str:
        """The last lines the provider wrote to stderr (its errors, e.g. a refused grant)."""
        if self.directory is None:
            return ""
        path = self.directory / "stderr.txt"
        if not path.exists():
            return ""
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])


def main() -> None:
    """Run the tests' provider for the demo: python -m tests.harness.oidc [port]."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("OIDC_PORT", "9400"))
    provider = OidcProvider([TEST_CLIENT], TEST_ACCOUNTS, port=port).start()
    client = TEST_CLIENT
    print(f"OpenID Connect provider: {provider.issuer}")
    print(f"client id {client['client_id']}, secret {client['client_secret']}")
    print("logins: " + ", ".join(a["login"] for a in TEST_ACCOUNTS) + " (any password)")
    try:
        while provider.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        provider.stop()


if __name__ == "__main__":
    main()
