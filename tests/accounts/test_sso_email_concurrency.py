"""SSO finds people by Email: two writes at the same moment cannot give two active users of
an SSO client one address (the client's row lock serialises them, as for R4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, User
from deskgate.sso.models import ProviderConfig
from tests.accounts.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_users_given_one_address_at_once(
    tenant: Client, user_factory: Callable[..., User]
) -> None:
    ProviderConfig.objects.create(
        client=tenant, issuer="https://idp.example", oidc_client_id="x", secret_encrypted="x"
    )
    for n in range(4):
        email = f"race{n}@n.example"
        other = user_factory("agent")

        def create(n: int = n, email: str = email) -> object:
            data = actions.UserInput(username=f"new{n}", full_name="New", email=email.upper())
            return actions.create_user(tenant, data, by=OPERATOR)

        def edit(other: User = other, email: str = email) -> object:
            data = actions.UserInput.of(other)
            data.email = email
            return actions.update_user(other, data, by=OPERATOR)

        outcomes = race(create, edit)
        failures = [o for o in outcomes if o is not None]
        assert len(failures) == 1, f"round {n}: {outcomes}"
        assert isinstance(failures[0], ValidationError)
        assert "already the Email of" in " ".join(failures[0].messages)
        holders = User.objects.filter(client=tenant, is_active=True, email__iexact=email)
        assert holders.count() == 1
