"""Queries for the REST API's busiest reads: a bound, so their cost cannot creep up unnoticed.

The list costs the same for 5 users as for 60 (no query per row), and so does the trail.
Today's counts on SQLite and PostgreSQL alike: the token check is 2 (find it with its client
and maker, then the one UPDATE that counts the request; an operator's token, so no maker's
rights to read), the page 1, the audit of the read 1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from tests.api.conftest import Program

LIST_BUDGET = 4
GET_BUDGET = 4
AUDIT_BUDGET = 4


@pytest.mark.parametrize("count", [5, 60])
def test_list_get_and_audit_stay_within_their_budgets(
    program: Program, user_factory: Callable[..., User], django_assert_max_num_queries, count
) -> None:
    users = [user_factory(mfa="email") for _ in range(count)]
    for user in users[:5]:
        actions.set_user_active(user, False, by=OPERATOR)
    with django_assert_max_num_queries(LIST_BUDGET):
        assert len(program.get("/users", limit=200).json()["items"]) == count
    with django_assert_max_num_queries(LIST_BUDGET):
        assert program.get("/users", q="person", level="agent", active="true").status_code == 200
    with django_assert_max_num_queries(GET_BUDGET):
        assert program.get(f"/users/{users[0].subject}").status_code == 200
    with django_assert_max_num_queries(AUDIT_BUDGET):
        assert len(program.get("/audit", limit=200).json()["items"]) >= count
