"""Email domains for home-realm discovery: add, prove by DNS, remove; find a client by one.

An admin adds `example.com`, publishes the TXT record `deskgate-verification=<token>` at
`_deskgate.example.com` and presses Verify. Only a verified domain routes anyone, and one
domain is verified for at most one client on the platform (a partial unique constraint,
so two admins verifying at the same moment cannot both win).
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from deskgate.accounts import audit, permissions
from deskgate.accounts.models import AuditAction, Client
from deskgate.sso import txt_records
from deskgate.sso.models import ProviderConfig, SsoDomain

RECORD_PREFIX = "_deskgate"
VALUE_PREFIX = "deskgate-verification="
MAX_DOMAINS = 50  # per client: plenty for mergers and brands, bounded for the page


def record_name(domain: SsoDomain) -> str:
    """Where the admin publishes the TXT record."""
    return f"{RECORD_PREFIX}.{domain.domain}"


def record_value(domain: SsoDomain) -> str:
    """What the TXT record says."""
    return f"{VALUE_PREFIX}{domain.token}"


def normalise(text: str) -> str | None:
    """`Example.COM.` -> `example.com` (IDNA for non-ASCII names); None when it is not a
    domain name with at least two labels."""
    name = text.strip().removeprefix("@").rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return None
    for label in labels:
        if not (0 < len(label) <= 63) or label[0] == "-" or label[-1] == "-":
            return None
        if not label.replace("-", "").isalnum() or not label.isascii():
            return None
    return name


def domains_of(client: Client) -> list[SsoDomain]:
    return list(SsoDomain.objects.filter(client=client))


def _one_of(client: Client, domain_id: int) -> SsoDomain:
    # Another client's domain answers as a missing one (R10).
    domain = SsoDomain.objects.filter(client=client, pk=domain_id).first()
    if domain is None:
        raise ValidationError(_("That domain is not on your list any more."))
    return domain


def add(client: Client, text: str, *, by: audit.Actor) -> SsoDomain:
    """Register a domain (unverified) and give it its verification token."""
    permissions.check(by.user, permissions.Op.SSO_SETTINGS, client.pk)
    name = normalise(text)
    if name is None:
        raise ValidationError(
            {"domain": [_("Enter a domain name such as example.com (the part after the @).")]}
        )
    if SsoDomain.objects.filter(client=client).count() >= MAX_DOMAINS:
        raise ValidationError({"domain": [_("Remove a domain you no longer use first.")]})
    try:
        with transaction.atomic():
            domain = SsoDomain.objects.create(
                client=client, domain=name, token=secrets.token_urlsafe(24)
            )
            audit.record(
                AuditAction.SSO_DOMAIN_ADDED,
                client=client,
                by=by,
                summary=f"SSO email domain added: {name}",
                domain=name,
            )
    except IntegrityError:
        raise ValidationError(
            {"domain": [_("%(domain)s is already on your list.") % {"domain": name}]}
        ) from None
    return domain


def verify(client: Client, domain_id: int, *, by: audit.Actor) -> SsoDomain:
    """Look the TXT record up; with the right value, the domain routes to this client."""
    permissions.check(by.user, permissions.Op.SSO_SETTINGS, client.pk)
    domain = _one_of(client, domain_id)
    if domain.verified:
        return domain
    try:
        values = txt_records.txt_values(record_name(domain))
    except txt_records.LookupFailed:
        raise ValidationError(
            _("DNS did not answer for %(name)s. Try again in a few minutes.")
            % {"name": record_name(domain)}
        ) from None
    if record_value(domain) not in values:
        raise ValidationError(
            _(
                "The TXT record at %(name)s does not say %(value)s yet. DNS changes can take "
                "a while to show; try again later."
            )
            % {"name": record_name(domain), "value": record_value(domain)}
        )
    try:
        with transaction.atomic():
            updated = SsoDomain.objects.filter(pk=domain.pk, verified_at__isnull=True).update(
                verified_at=timezone.now()
            )
            if updated:
                audit.record(
                    AuditAction.SSO_DOMAIN_VERIFIED,
                    client=client,
                    by=by,
                    summary=f"SSO email domain verified: {domain.domain}",
                    domain=domain.domain,
                )
    except IntegrityError:
        raise ValidationError(
            _(
                "%(domain)s is already verified for another company on this platform. Ask "
                "our support if it is yours."
            )
            % {"domain": domain.domain}
        ) from None
    domain.refresh_from_db()
    return domain


def remove(client: Client, domain_id: int, *, by: audit.Actor) -> None:
    """Take a domain off the list: addresses at it no longer route to this client."""
    permissions.check(by.user, permissions.Op.SSO_SETTINGS, client.pk)
    domain = _one_of(client, domain_id)
    with transaction.atomic():
        deleted, _rows = SsoDomain.objects.filter(pk=domain.pk).delete()
        if deleted:
            audit.record(
                AuditAction.SSO_DOMAIN_REMOVED,
                client=client,
                by=by,
                summary=f"SSO email domain removed: {domain.domain}",
                domain=domain.domain,
                was_verified=domain.verified,
            )


def client_for_address(address: str) -> Client | None:
    """The client whose verified domain this email address is at, if it has SSO set up."""
    _local, at, rest = address.strip().rpartition("@")
    name = normalise(rest) if at else None
    found = (
        SsoDomain.objects.filter(domain=name or "", verified_at__isnull=False)
        .select_related("client")
        .first()
    )
    if found is None or not ProviderConfig.objects.filter(client=found.client).exists():
        return None
    return found.client
