"""Actions on clients (tenants): create one, change its sign-in settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext

from deskgate.accounts import audit, contact, languages, permissions, rules
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, Client, Level, MfaMethod

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


STEP_UP_RANGE = (1, 1440)


@dataclass(frozen=True)
class FactorPolicy:
    """The client's factor policy as an admin sets it (issue 14): the levels that must use
    an authenticator app or a passkey, the MFA method users created later get by level,
    passwordless sign-in with a passkey, and the step-up window in minutes."""

    strong_factor_levels: tuple[str, ...] = ()
    new_user_mfa: dict[str, str] = field(default_factory=dict)
    passwordless_enabled: bool = False
    step_up_minutes: int = 15

    @classmethod
    def of(cls, client: Client) -> FactorPolicy:
        return cls(
            strong_factor_levels=tuple(client.strong_factor_levels.split()),
            new_user_mfa=dict(client.new_user_mfa or {}),
            passwordless_enabled=client.passwordless_enabled,
            step_up_minutes=client.step_up_minutes,
        )


def _level_label(value: str) -> str:
    return str(Level(value).label) if value in Level.values else value


def check_factor_policy(client: Client, policy: FactorPolicy) -> FactorPolicy:
    """`policy` cleaned (levels in the list's order, "keep the default" levels dropped), or
    ValidationError keyed by the settings form's fields."""
    errors: dict[str, list[str]] = {}
    unknown = [v for v in policy.strong_factor_levels if v not in Level.values]
    if unknown:
        errors["strong_factor_levels"] = [f"Not a level: {', '.join(unknown)}."]
    levels = tuple(v for v in Level.values if v in policy.strong_factor_levels)
    new_user_mfa: dict[str, str] = {}
    for level, method in policy.new_user_mfa.items():
        if not method:
            continue  # keep the default: the creating door decides
        if level not in Level.values or method not in MfaMethod.values:
            errors.setdefault("new_user_mfa", []).append(
                gettext("%(level_label)s: choose Off, Email or SMS, or keep the default.")
                % {"level_label": _level_label(level)}
            )
            continue
        new_user_mfa[level] = method
    low, high = STEP_UP_RANGE
    if not low <= policy.step_up_minutes <= high:
        errors["step_up_minutes"] = [f"Enter a number of minutes from {low} to {high}."]
    if not client.supports_mfa:
        # R1: no second factor at all before 25.x, so no policy about one either.
        why = client.mfa_unavailable_reason
        if levels:
            errors["strong_factor_levels"] = [
                f"{why} Authenticator apps and passkeys come with it, so no level can be "
                "required to use one."
            ]
        given = [lv for lv, m in new_user_mfa.items() if m != MfaMethod.OFF]
        if given:
            names = ", ".join(_level_label(lv) for lv in given)
            errors["new_user_mfa"] = [f"{why} New users cannot get Email or SMS MFA ({names})."]
        if policy.passwordless_enabled:
            errors["passwordless_enabled"] = [f"{why} Passkeys come with it."]
    if errors:
        raise ValidationError(errors)
    return FactorPolicy(levels, new_user_mfa, policy.passwordless_enabled, policy.step_up_minutes)


def _policy_changes(before: FactorPolicy, after: FactorPolicy) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    if before.strong_factor_levels != after.strong_factor_levels:
        changed["strong_factor_levels"] = " ".join(after.strong_factor_levels)
    if before.new_user_mfa != after.new_user_mfa:
        changed["new_user_mfa"] = after.new_user_mfa
    if before.passwordless_enabled != after.passwordless_enabled:
        changed["passwordless_enabled"] = after.passwordless_enabled
    if before.step_up_minutes != after.step_up_minutes:
        changed["step_up_minutes"] = after.step_up_minutes
    return changed


def update_client_settings(
    client: Client,
    *,
    by: Actor,
    password_reset_enabled: bool,
    remember_device_enabled: bool,
    sms_countries: str | None = None,
    policy: FactorPolicy | None = None,
    default_language: str | None = None,
    time_zone: str | None = None,
    alert_emails: bool | None = None,
) -> Client:
    """Save a client's sign-in settings; SMS countries are two-letter codes, empty for all.
    `policy`: the factor policy to set (None keeps it as stored); `default_language` ("" for
    the browser's), `time_zone` (an IANA name) and `alert_emails` (do the admins get the
    alert email, `deskgate.accounts.alerts`) likewise. Only the client's admins (and the
    operator) may; the audit event names what changed."""
    permissions.check(by.user, permissions.Op.CLIENT_SETTINGS, client.pk)
    fields = ["password_reset_enabled", "remember_device_enabled"]
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        before = FactorPolicy.of(client)
        changed: dict[str, Any] = {}
        locale_changed: dict[str, str] = {}
        if policy is not None:
            after = check_factor_policy(client, policy)
            changed = _policy_changes(before, after)
            client.strong_factor_levels = " ".join(after.strong_factor_levels)
            client.new_user_mfa = after.new_user_mfa
            client.passwordless_enabled = after.passwordless_enabled
            client.step_up_minutes = after.step_up_minutes
            fields += [
                "strong_factor_levels",
                "new_user_mfa",
                "passwordless_enabled",
                "step_up_minutes",
            ]
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
        if default_language is not None or time_zone is not None:
            locale = _checked_locale(client, default_language, time_zone)
            for name, value in locale.items():
                if getattr(client, name) != value:
                    locale_changed[name] = value
                setattr(client, name, value)
                fields.append(name)
        alerts_changed: dict[str, bool] = {}
        if alert_emails is not None:
            if client.alert_emails != alert_emails:
                alerts_changed["alert_emails"] = alert_emails
            client.alert_emails = alert_emails
            fields.append("alert_emails")
        client.password_reset_enabled = password_reset_enabled
        client.remember_device_enabled = remember_device_enabled
        client.save(update_fields=fields)
        audit.record(
            AuditAction.CLIENT_SETTINGS_CHANGED,
            client=client,
            by=by,
            summary="Client settings changed"
            + (f" (factor policy: {', '.join(sorted(changed))})" if changed else "")
            + (
                f" (language and zone: {', '.join(sorted(locale_changed))})"
                if locale_changed
                else ""
            )
            + (
                " (alert emails to admins: "
                + ("on" if alerts_changed["alert_emails"] else "off")
                + ")"
                if alerts_changed
                else ""
            ),
            password_reset_enabled=password_reset_enabled,
            remember_device_enabled=remember_device_enabled,
            sms_countries=client.sms_countries,
            **changed,
            **locale_changed,  # type: ignore[arg-type]  # str values, as the detail's others
            **alerts_changed,  # type: ignore[arg-type]  # a bool, as the two above
        )
    return client


def _checked_locale(
    client: Client, default_language: str | None, time_zone: str | None
) -> dict[str, str]:
    """The client's language and zone as they will be saved, or ValidationError by field."""
    language = client.default_language if default_language is None else default_language.strip()
    zone = client.time_zone if time_zone is None else time_zone.strip()
    errors: dict[str, list[str]] = {}
    wrong_language = languages.check_language(language, field="default_language")
    if wrong_language:
        errors["default_language"] = [wrong_language]
    wrong_zone = languages.check_time_zone(zone) if zone else None
    if not zone:
        wrong_zone = gettext("Choose the company's time zone, such as Europe/Helsinki.")
    if wrong_zone:
        errors["time_zone"] = [wrong_zone]
    if errors:
        raise ValidationError(errors)
    return {"default_language": language, "time_zone": zone}
