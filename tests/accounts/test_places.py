"""accounts/places.py: the place of an address, read from a real MaxMind-format database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from deskgate import conf
from deskgate.accounts.places import place_of
from tests.harness import geoip


@pytest.fixture
def city_db(tmp_path: Path, settings: Any) -> Path:
    settings.DESKGATE_GEOIP_DB = str(geoip.write(tmp_path / "GeoLite2-City.mmdb"))
    return Path(settings.DESKGATE_GEOIP_DB)


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        (geoip.HELSINKI, "Helsinki, Finland"),
        (geoip.SWEDEN, "Sweden"),
        (f"::ffff:{geoip.HELSINKI}", "Helsinki, Finland"),  # an IPv4 address seen over IPv6
        (geoip.NOWHERE, "Unknown"),
        ("127.0.0.1", "Local network"),
        ("::1", "Local network"),
        ("10.1.2.3", "Local network"),
        ("192.168.0.10", "Local network"),
        ("fe80::1", "Local network"),
        (None, "Unknown"),
        ("", "Unknown"),
        ("not an address", "Unknown"),
    ],
)
def test_places_from_a_city_database(city_db: Path, ip: str | None, place: str) -> None:
    assert place_of(ip) == place


def test_a_country_database_names_countries(tmp_path: Path, settings: Any) -> None:
    settings.DESKGATE_GEOIP_DB = str(geoip.write(tmp_path / "c.mmdb", kind="Country"))
    assert place_of(geoip.HELSINKI) == "Finland"
    assert place_of(geoip.NOWHERE) == "Unknown"


def test_without_a_database_every_public_place_is_unknown(settings: Any) -> None:
    settings.DESKGATE_GEOIP_DB = ""
    assert place_of(geoip.HELSINKI) == "Unknown"
    assert place_of("127.0.0.1") == "Local network"


def test_names_follow_the_language_where_the_database_has_them(city_db: Path) -> None:
    with translation.override("de"):
        assert place_of(geoip.HELSINKI) == "Helsinki, Finnland"
    with translation.override("fi"):  # MaxMind has no Finnish names: English ones
        assert place_of(geoip.HELSINKI) == "Helsinki, Finland"
        assert place_of(geoip.NOWHERE) == "Tuntematon"


def test_a_broken_or_vanished_file_names_no_place_and_warns_once(
    tmp_path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"this is not a MaxMind database" * 10)
    settings.DESKGATE_GEOIP_DB = str(broken)
    with caplog.at_level(logging.WARNING, logger="deskgate.accounts.places"):
        assert place_of(geoip.HELSINKI) == "Unknown"
        assert place_of(geoip.HELSINKI) == "Unknown"
    assert len(caplog.records) == 1
    settings.DESKGATE_GEOIP_DB = str(tmp_path / "gone.mmdb")
    assert place_of(geoip.HELSINKI) == "Unknown"


def test_a_replaced_file_is_read_again(tmp_path: Path, settings: Any) -> None:
    path = tmp_path / "GeoLite2.mmdb"
    settings.DESKGATE_GEOIP_DB = str(geoip.write(path, kind="Country"))
    assert place_of(geoip.HELSINKI) == "Finland"
    fresh = geoip.write(tmp_path / "new.mmdb", kind="City")
    fresh.replace(path)  # as geoipupdate does: a new file under the same name
    assert place_of(geoip.HELSINKI) == "Helsinki, Finland"


def test_the_setting_names_an_existing_file(tmp_path: Path) -> None:
    base = {"SECRET_KEY": "x" * 40}
    assert conf.load(base).geoip_db == ""
    db = geoip.write(tmp_path / "GeoLite2-City.mmdb")
    assert conf.load({**base, "DESKGATE_GEOIP_DB": str(db)}).geoip_db == str(db)
    with pytest.raises(conf.ConfigError, match="DESKGATE_GEOIP_DB: no such file"):
        conf.load({**base, "DESKGATE_GEOIP_DB": str(tmp_path / "missing.mmdb")})
