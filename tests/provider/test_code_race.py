"""Two exchanges of one code, or two refreshes of one token, at the same moment: tokens
for exactly one.

Each exchange is a thread with its own database connection, released together at a
barrier (as tests/accounts/test_concurrency.py races its writers); on PostgreSQL the
claim is the conditional UPDATE's row lock, on SQLite the IMMEDIATE transaction.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from authlib.integrations.base_client.errors import OAuthError
from django.db import close_old_connections, connection

from deskgate.accounts.models import AuditEvent
from tests.conftest import signed_in_client
from tests.provider.conftest import App

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 5


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls together, each in its own thread and connection; answer each one's
    result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[i] = calls[i]()
        except Exception as exc:  # asserted on by the test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return outcomes


def test_two_parallel_exchanges_of_one_code_give_tokens_to_exactly_one(app: App, agent) -> None:
    browser = signed_in_client(agent)
    for _ in range(ROUNDS):
        exchange = functools.partial(app.exchange, app.authorize(browser))
        outcomes = race(exchange, exchange)
        tokens = [o for o in outcomes if isinstance(o, dict)]
        errors = [o for o in outcomes if isinstance(o, OAuthError)]
        assert len(tokens) == 1 and len(errors) == 1, outcomes
        assert errors[0].error == "invalid_grant"
        # The code was used twice: the tokens it gave do not outlive the race.
        assert app.userinfo(tokens[0]["access_token"]).status_code == 401
    assert AuditEvent.objects.filter(action="oidc.code_replayed").count() == ROUNDS


def test_two_parallel_refreshes_of_one_token_give_tokens_to_exactly_one(app: App, agent) -> None:
    browser = signed_in_client(agent)
    for _ in range(ROUNDS):
        token = app.sign_in(browser)
        refresh = functools.partial(app.refresh, token["refresh_token"])
        outcomes = race(refresh, refresh)
        tokens = [o for o in outcomes if isinstance(o, dict)]
        errors = [o for o in outcomes if isinstance(o, OAuthError)]
        assert len(tokens) == 1 and len(errors) == 1, outcomes  # no 500
        assert errors[0].error == "invalid_grant"
        # The second refresh used a token the first had rotated: a reuse, so the family
        # (the first's new tokens too) is revoked, as for a replay at any later time.
        assert app.userinfo(tokens[0]["access_token"]).status_code == 401
