"""Small real MaxMind-format databases for the tests, written with mmdb-writer.

Their networks are made up (public addresses, so that none reads as a local network):

    81.90.0.0/16      Helsinki, Finland (the City database); Finland (the Country one)
    2001:14ba::/32    Sweden, no city
"""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

HELSINKI = "81.90.1.2"
SWEDEN = "2001:14ba::7"
NOWHERE = "8.8.8.8"  # a public address the databases do not hold

_FINLAND = {"iso_code": "FI", "names": {"en": "Finland", "de": "Finnland"}}
_SWEDEN = {"iso_code": "SE", "names": {"en": "Sweden", "de": "Schweden"}}


def write(path: Path, *, kind: str = "City") -> Path:
    """A GeoLite2-City (`kind="City"`) or GeoLite2-Country database at `path`."""
    writer = MMDBWriter(
        ip_version=6,
        database_type=f"GeoLite2-{kind}",
        languages=["en", "de"],
        description="Deskgate test places",
        ipv4_compatible=True,
    )
    finland: dict[str, object] = {"country": _FINLAND}
    if kind == "City":
        finland["city"] = {"names": {"en": "Helsinki", "de": "Helsinki"}}
    writer.insert_network(IPSet(["81.90.0.0/16"]), finland)
    writer.insert_network(IPSet(["2001:14ba::/32"]), {"country": _SWEDEN})
    writer.to_db_file(str(path))
    return path
