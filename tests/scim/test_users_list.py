"""RFC 7644 §3.4.2: filtering (§3.4.2.2), pagination (§3.4.2.4), as one indexed query."""

from __future__ import annotations

import pytest

from deskgate.accounts.models import AuditEvent
from tests.scim.conftest import Directory


@pytest.fixture
def three(directory: Directory) -> list[dict]:
    return [
        directory.create("ada", externalId="e-ada"),
        directory.create("Grace", externalId="e-grace", active=False),
        directory.create("linus", emails=[{"value": "Linus@Example.com", "type": "work"}]),
    ]


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["userName"] for r in response.json()["Resources"]]


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ('userName eq "ADA"', ["ada"]),  # userName is case-insensitive (RFC 7643 §4.1.1)
        ('userName eq "grace"', ["Grace"]),
        ('externalId eq "e-grace"', ["Grace"]),
        ('emails[type eq "work"].value eq "linus@example.com"', ["linus"]),
        ('emails.value eq "LINUS@example.com"', ["linus"]),
        ('emails[type eq "work" and value eq "ada@example.com"]', ["ada"]),
        ('emails[type eq "home"].value eq "ada@example.com"', []),
        ("active eq false", ["Grace"]),
        ('active eq true and externalId eq "e-ada"', ["ada"]),
        ('userName eq "ada" or userName eq "linus"', ["ada", "linus"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada"', ["ada"]),
    ],
)
def test_supported_filters(three, directory: Directory, expression: str, found: list[str]) -> None:
    assert names(directory.get("Users", filter=expression)) == found


@pytest.mark.parametrize(
    "expression",
    [
        'userName sw "a"',
        'title eq "x"',
        "not (active eq true)",
        "userName pr",
        'userName eq "a',
        'active eq "true"',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
        'phoneNumbers.value eq "+358401234567"',
    ],
)
def test_anything_else_is_invalid_filter(directory: Directory, expression: str) -> None:
    response = directory.get("Users", filter=expression)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_pagination_is_one_based_and_count_is_capped(three, directory: Directory) -> None:
    first = directory.get("Users", startIndex=1, count=2).json()
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (3, 1, 2)
    second = directory.get("Users", startIndex=3, count=2).json()
    assert [r["userName"] for r in second["Resources"]] == ["linus"]
    assert directory.get("Users", startIndex=0).json()["startIndex"] == 1  # <1 reads as 1
    zero = directory.get("Users", count=0).json()
    assert (zero["totalResults"], zero["itemsPerPage"], zero["Resources"]) == (3, 0, [])
    assert directory.get("Users", count=100000).json()["itemsPerPage"] == 3
    assert directory.get("Users", count="many").json()["scimType"] == "invalidValue"


def test_a_list_is_audited_with_the_filtered_attributes_never_their_values(
    three, directory: Directory
) -> None:
    directory.get("Users", filter='emails[type eq "work"].value eq "linus@example.com"')
    event = AuditEvent.objects.filter(action="api.read").latest("id")
    assert event.detail["filter_on"] == ["emails"]
    assert "linus" not in (event.summary + str(event.detail)).lower()
