"""Queries per sign-in step: a bound, so the storm's cost cannot creep up unnoticed."""

from __future__ import annotations

from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from tests.conftest import PASSWORD
from tests.signin.conftest import last_code


def test_a_two_step_sign_in_stays_within_its_query_budget(user_factory) -> None:
    # Measured on a second sign-in: the hour's send counters and the user's guard row
    # exist, as they do for almost every sign-in of a shift.
    warm = user_factory("agent", "email")
    user = user_factory("agent", "email")
    for someone in (warm, user):
        first = HttpClient()
        first.post("/signin/", {"username": someone.username, "password": PASSWORD})
    http = HttpClient()
    http.get("/signin/")
    with CaptureQueriesContext(connection) as password_step:
        response = http.post("/signin/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/signin/code/"
    with CaptureQueriesContext(connection) as code_page:
        http.get("/signin/code/")
    with CaptureQueriesContext(connection) as code_step:
        response = http.post("/signin/code/", {"action": "verify", "code": last_code(user)})
    assert response["Location"] == "/"
    # Statements as the test database counts them (savepoints included); 24, 3 and 22 now.
    # The password step's 24 include the attempt budget (an UPSERT for the address and one
    # for the network, and the give-back of a right password); one more (pruning the spent
    # windows' rows) when the step opens a new window.
    assert len(password_step) <= 25, [q["sql"] for q in password_step.captured_queries]
    assert len(code_page) <= 5, [q["sql"] for q in code_page.captured_queries]
    assert len(code_step) <= 24, [q["sql"] for q in code_step.captured_queries]
