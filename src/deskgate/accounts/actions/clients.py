"""Actions on clients (tenants): create one, change its sign-in settings."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from deskgate.accounts import access, audit, contact, rules
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, Client

_RELEASE_RE = re.compile(r"\d{1,3}\.\d{1,3}")


def create_client(name: str, release: str, country: str = "FI", *, by: Actor) -> Client:
    """Create a client (tenant) on a release such as 25.4 or 11.8."""
    errors: dict[str, list[str]] = {}
    try:
        name = rules.clean_name(name, "The client's name", 100)
    except ValidationError as exc:
        errors["name"] = list(exc.messages)
    if errors:
        pass
    elif not name:
        errors["name"] = ["Enter the client's name."]
    elif Client.objects.filter(name__iexact=name).exists():
        errors["name"] = [f"A client named {name} already exists."]
    release = release.strip()
    if not _RELEASE_RE.fullmatch(release):
        errors["release"] = ["Enter the release as major.minor, such as 25.4 or 11.8."]
    country = country.strip().upper()
    if country not in contact.known_regions():
        errors["country"] = [f"{country or 'An empty value'} is not a two-letter country code."]
    if errors:
        raise ValidationError(errors)
    base = slugify(name)[:90] or "client"
    slug, n = base, 1
    while Client.objects.filter(slug=slug).exists():  # "Acme" and "ACME!" both exist
        n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        client = Client.objects.create(
            name=name, slug=slug, release=release, default_country=country
        )
        audit.record(
            AuditAction.CLIENT_CREATED,
            client=client,
            by=by,
            summary=f"Client {name} created on release {release}",
            release=release,
        )
    return client


def update_client_settings(
    client: Client,
    *,
    by: Actor,
    password_reset_enabled: bool,
    remember_device_enabled: bool,
    sms_countries: str | None = None,
) -> Client:
    """Save a client's sign-in settings; SMS countries are two-letter codes, empty for all."""
    access.require(by.user, client.pk, admin_only=True)
    fields = ["password_reset_enabled", "remember_device_enabled"]
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if sms_countries is not None:
            codes = sorted(set(sms_countries.replace(",", " ").upper().split()))
            unknown = [c for c in codes if c not in contact.known_regions()]
            if unknown:
                raise ValidationError(
                    {
                        "sms_countries": [
                            f"Not two-letter country codes: {', '.join(unknown)}. "
                            "Use codes such as FI SE EE."
                        ]
                    }
                )
            client.sms_countries = " ".join(codes)
            fields.append("sms_countries")
        client.password_reset_enabled = password_reset_enabled
        client.remember_device_enabled = remember_device_enabled
        client.save(update_fields=fields)
        audit.record(
            AuditAction.CLIENT_SETTINGS_CHANGED,
            client=client,
            by=by,
            summary="Client settings changed",
            password_reset_enabled=password_reset_enabled,
            remember_device_enabled=remember_device_enabled,
            sms_countries=client.sms_countries,
        )
    return client
