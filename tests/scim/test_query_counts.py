"""Statements per SCIM request: a bound, so the cost cannot creep up unnoticed.

Today's counts. The token check is two statements (read the token with its client and
maker, then the counting UPDATE); a filtered list adds the count, the page and the audit row
(5 in all); a create adds the savepoints, the client's row lock, the rules' checks (user
name, R4 holders, SSO), the insert and its audit row (12).
"""

from __future__ import annotations

from tests.scim.conftest import Directory, new_user

LIST_BUDGET = 5
CREATE_BUDGET = 12


def test_a_filtered_list_and_a_create_stay_within_budget(
    directory: Directory, django_assert_max_num_queries
) -> None:
    for n in range(5):
        directory.create(f"user{n}")
    with django_assert_max_num_queries(LIST_BUDGET):
        response = directory.get("Users", filter='userName eq "user3"')
    assert response.json()["totalResults"] == 1
    with django_assert_max_num_queries(CREATE_BUDGET):
        response = directory.post("Users", new_user("ada"))
    assert response.status_code == 201
