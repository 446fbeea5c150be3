"""Concurrent creates of one userName (Entra retries, two directories): one user, the rest 409.

Through the live server with threads released together at a barrier, as in
tests/security/test_02_races.py: the client's row lock serialises the creates, and the unique
lower(username) index backs it up across clients.
"""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from deskgate.accounts.models import User
from tests.scim.conftest import issue, new_user
from tests.security.conftest import parallel

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_creates_of_one_user_name_make_one_user(live_server, tenant_factory) -> None:
    first, second = tenant_factory("Acme"), tenant_factory("Globex")
    secrets = [issue(first), issue(second)]
    body = new_user("ada.lovelace")

    def create(i: int) -> int:
        response = requests.post(
            f"{live_server.url}/scim/v2/Users",
            json=body,
            headers={
                "Authorization": f"Bearer {secrets[i % 2]}",
                "Content-Type": "application/scim+json",
            },
            timeout=60,
        )
        if response.status_code == 409:
            assert response.json()["scimType"] == "uniqueness"
        return response.status_code

    answers = Counter(parallel(12, create))
    assert answers == {201: 1, 409: 11}, answers
    assert User.objects.filter(username__iexact="ada.lovelace").count() == 1
