"""DNS TXT lookups for SSO domain verification, through dnspython.

The servers asked come from DESKGATE_SSO['dns_servers'] (DESKGATE_DNS_SERVERS), else the
system's resolver: tests point it at an authoritative server on loopback.
"""

from __future__ import annotations

import dns.exception
import dns.nameserver
import dns.resolver

from deskgate.sso.app_settings import app_settings


class LookupFailed(Exception):
    """No answer could be had (timeout, server failure): not the same as no record."""


def _resolver() -> dns.resolver.Resolver:
    policy = app_settings.SSO
    if not policy.dns_servers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port) for address, port in policy.dns_servers
        ]
    resolver.lifetime = policy.fetch_seconds
    resolver.cache = None  # a record just published must be seen at once
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings published at `name` (each record's strings joined); [] when none."""
    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except dns.exception.DNSException as exc:
        raise LookupFailed(str(exc)) from exc
    values = []
    for record in answer.rrset or ():
        values.append(b"".join(record.strings).decode("utf-8", "replace"))
    return values
