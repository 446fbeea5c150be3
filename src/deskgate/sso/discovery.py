"""Home-realm discovery: which client's provider does "Sign in with SSO" go to?

What a person types may be a work email (its domain verified by a client's admin), the
company's name, or the user name of someone whose company makes SSO mandatory. Every
input costs the same four queries, so an unknown name is not answered faster than a
known one.
"""

from __future__ import annotations

from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from deskgate.accounts.models import Client, User
from deskgate.sso import domains
from deskgate.sso.models import ProviderConfig, SsoDomain


def client_for(typed: str) -> Client | None:
    """The client with SSO set up that `typed` leads to, or None (say nothing more)."""
    text = typed.strip()
    _local, at, rest = text.rpartition("@")
    domain = (domains.normalise(rest) if at else None) or ""
    by_domain = (
        SsoDomain.objects.filter(domain=domain, verified_at__isnull=False)
        .values_list("client_id", flat=True)
        .first()
    )
    by_name = Client.objects.filter(name__iexact=text).values_list("pk", flat=True).first()
    by_user = (
        # lower(username) = lower(text): the unique index on lower(username) serves it.
        User.objects.filter(Exact(Lower("username"), text.lower()))
        .filter(is_active=True, client__sso__mandatory=True)
        .values_list("client_id", flat=True)
        .first()
    )
    client_id = by_domain or by_name or by_user or 0
    config = ProviderConfig.objects.filter(client_id=client_id).select_related("client").first()
    return config.client if config is not None else None
