"""The actions on clients: refusals, normalisation and unique slugs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client
from tests.accounts.conftest import State


@pytest.mark.parametrize(
    ("name", "release", "country", "fields"),
    [
        ("", "25.4", "FI", ["name"]),
        ("northwind", "25.4", "FI", ["name"]),
        ("Eastwind", "25", "FI", ["release"]),
        ("Eastwind", "v25.4", "FI", ["release"]),
        ("Eastwind", "25.4.1", "FI", ["release"]),
        ("Eastwind", "25.4", "XX", ["country"]),
        ("Eastwind", "25.4", "", ["country"]),
        ("", "", "", ["country", "name", "release"]),
    ],
    ids=[
        "no-name",
        "name-taken-case-differs",
        "release-major-only",
        "release-prefixed",
        "release-three-parts",
        "unknown-country",
        "no-country",
        "all-wrong",
    ],
)
def test_create_client_refusals(
    tenant: Client,
    db_state: Callable[[], State],
    name: str,
    release: str,
    country: str,
    fields: list[str],
) -> None:
    before = db_state()
    with pytest.raises(ValidationError) as caught:
        actions.create_client(name, release, country, by=OPERATOR)
    assert sorted(caught.value.message_dict) == fields
    assert db_state() == before


def test_create_client_normalises(db: None) -> None:
    client = actions.create_client("  Eastwind ", " 26.1 ", "se", by=OPERATOR)
    client.refresh_from_db()
    assert (client.name, client.release, client.default_country) == ("Eastwind", "26.1", "SE")


def test_client_slugs_stay_unique_when_names_slugify_alike(db) -> None:
    from deskgate.accounts.audit import OPERATOR

    names = ["Acme Oy", "Acme-Oy", "ACME OY!", "acme  oy?"]
    slugs = [actions.create_client(n, "25.4", by=OPERATOR).slug for n in names]
    assert slugs == ["acme-oy", "acme-oy-2", "acme-oy-3", "acme-oy-4"]
