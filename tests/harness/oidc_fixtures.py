"""pytest fixtures for the OpenID Connect provider (tests/harness/oidc.py). Make them
available with, in tests/conftest.py (pytest finds fixtures by name):

    from tests.harness.oidc_fixtures import oidc_provider, oidc_provider_config  # noqa: F401

`oidc_provider` (session-scoped, started on first use) runs one provider with
`oidc_provider_config()`: the client OIDC_CLIENTS (client id "deskgate-test", secret
"test-secret-0123456789", client_secret_basic) and the accounts OIDC_ACCOUNTS, logins:

    anna        anna@northwind.example     verified
    sami        sami@northwind.example     verified, amr ["pwd", "mfa"]
    unverified  eve@northwind.example      email_verified false
    stranger    nobody@elsewhere.example   verified
    shared      kalle@shared.example       verified

Each account's sub is "sub-<login>". More accounts or clients for a whole test run: append
to OIDC_ACCOUNTS / OIDC_CLIENTS before the first test uses the provider, or override the
`oidc_provider_config` fixture in a conftest.py. For a provider of its own (other clients,
a provider that is down...), a test starts one: `with OidcProvider(...) as provider:`.

The redirect URI the product sends must be http://localhost:<any port>/signin/sso/callback/
or http://127.0.0.1:<any port>/signin/sso/callback/, i.e. DESKGATE_BASE_URL = live_server.url
(see oidc.py on why any port matches).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.oidc import TEST_ACCOUNTS, TEST_CLIENT, OidcProvider, oidc_missing

__all__ = [
    "OIDC_ACCOUNTS",
    "OIDC_CLIENTS",
    "oidc_claims_conform",
    "oidc_provider",
    "oidc_provider_config",
]

OIDC_CLIENTS: list[dict[str, Any]] = [copy.deepcopy(TEST_CLIENT)]
OIDC_ACCOUNTS: list[dict[str, Any]] = copy.deepcopy(TEST_ACCOUNTS)


@pytest.fixture(
    scope="session", params=[True, False], ids=["claims-at-userinfo", "claims-in-id-token"]
)
def oidc_claims_conform(request: pytest.FixtureRequest) -> bool:
    """Every test of the provider runs twice: with oidc-provider's default (the ID token
    carries only the openid scope's claims; email and name are at UserInfo, as OpenID
    Connect Core 5.4 allows and Okta does), and with the claims in the ID token (as Entra
    ID and Google send them)."""
    return bool(request.param)


@pytest.fixture(scope="session")
def oidc_provider_config(oidc_claims_conform: bool) -> dict[str, Any]:
    """Keyword arguments for OidcProvider; override this fixture to change them."""
    return {
        "clients": copy.deepcopy(OIDC_CLIENTS),
        "accounts": copy.deepcopy(OIDC_ACCOUNTS),
        "conform_id_token_claims": oidc_claims_conform,
    }


@pytest.fixture(scope="session")
def oidc_provider(oidc_provider_config: dict[str, Any]) -> Iterator[OidcProvider]:
    # Imported here, not at the top: tests/conftest.py imports this module while it is
    # itself still being imported, before `need` exists.
    from tests.conftest import need

    missing = oidc_missing()
    need(missing is None, f"the OpenID Connect test provider ({missing})")
    provider = OidcProvider(**oidc_provider_config).start()
    try:
        yield provider
    finally:
        provider.stop()
