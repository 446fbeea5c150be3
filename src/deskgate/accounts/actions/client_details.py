"""An operator's changes of a client: its name, its default country, its release.

Only the operator changes these (at the command line): they describe the company's contract
and installation, not a setting its admins choose. A move to a release before 25.x takes MFA
away (R1), so the same transaction turns every user's method Off, one audit event each, drops
the factor policy that only 25.x can keep, and tells the client's admins by email.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deskgate.accounts import audit, contact, hooks, notify, rules
from deskgate.accounts.actions._common import lock_client
from deskgate.accounts.actions.clients import _RELEASE_RE as RELEASE_RE
from deskgate.accounts.actions.users import mfa_event
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, Level, MfaMethod, User

OPERATORS_ONLY = "Only an operator changes a client's name, country or release."


@dataclass
class ClientChanged:
    client: Client
    changed: list[str] = field(default_factory=list)
    # Users whose MFA method was turned Off by a move to a release without MFA.
    mfa_turned_off: list[User] = field(default_factory=list)


def change_client(
    client: Client,
    *,
    by: Actor,
    name: str | None = None,
    country: str | None = None,
    release: str | None = None,
) -> ClientChanged:
    """Rename a client, change its default country for phone numbers, or record the release
    it now runs (None keeps a value). Refusals are ValidationError keyed by field."""
    if by.user is not None or by.token is not None:
        raise PermissionDenied(OPERATORS_ONLY)
    with transaction.atomic():
        client = lock_client(client)
        errors: dict[str, list[str]] = {}
        changes: dict[str, str] = {}
        if name is not None:
            try:
                name = rules.clean_name(name, _("The client's name"), 100)
            except ValidationError as exc:
                errors["name"] = list(exc.messages)
            else:
                if not name:
                    errors["name"] = [_("Enter the client's name.")]
                elif Client.objects.filter(name__iexact=name).exclude(pk=client.pk).exists():
                    errors["name"] = [_("A client named %(name)s already exists.") % {"name": name}]
                elif name != client.name:
                    changes["name"] = name
        if country is not None:
            country = country.strip().upper()
            if country not in contact.known_regions():
                errors["country"] = [
                    _("%(code)s is not a two-letter country code, such as FI or SE.")
                    % {"code": country or _("An empty value")}
                ]
            elif country != client.default_country:
                changes["default_country"] = country
        if release is not None:
            release = release.strip()
            if not RELEASE_RE.fullmatch(release):
                errors["release"] = [_("Enter the release as major.minor, such as 25.4 or 11.8.")]
            elif release != client.release:
                changes["release"] = release
        if errors:
            raise ValidationError(errors)
        outcome = ClientChanged(client, sorted(changes))
        if not changes:
            return outcome
        had_mfa = client.supports_mfa
        before = {f: getattr(client, f) for f in changes}
        for f, value in changes.items():
            setattr(client, f, value)
        fields = list(changes)
        if had_mfa and not client.supports_mfa:
            fields += _drop_factor_policy(client)
        client.save(update_fields=fields)
        if "release" in changes:
            audit.record(
                AuditAction.CLIENT_RELEASE_CHANGED,
                client=client,
                by=by,
                summary=f"Release of {client.name} changed from {before['release']} to "
                f"{client.release}",
                before=before["release"],
                after=client.release,
            )
        other = {f: v for f, v in changes.items() if f != "release"}
        if other:
            audit.record(
                AuditAction.CLIENT_DETAILS_CHANGED,
                client=client,
                by=by,
                summary=f"Client {client.name}: "
                + ", ".join(
                    f"{f.replace('_', ' ')} {before[f]} \u2192 {v}" for f, v in other.items()
                ),
                changes={f: {"before": before[f], "after": v} for f, v in other.items()},
            )
        if had_mfa and not client.supports_mfa:
            outcome.mfa_turned_off = _turn_mfa_off(client, by=by)
            _tell_admins(client, before["release"], len(outcome.mfa_turned_off), by=by)
    return outcome


def _drop_factor_policy(client: Client) -> list[str]:
    """What a client before 25.x cannot keep (issue 14's policy needs MFA)."""
    client.strong_factor_levels = ""
    client.new_user_mfa = {lv: m for lv, m in (client.new_user_mfa or {}).items() if m == "off"}
    client.passwordless_enabled = False
    return ["strong_factor_levels", "new_user_mfa", "passwordless_enabled"]


def _turn_mfa_off(client: Client, *, by: Actor) -> list[User]:
    """Every user's method to Off, with one audit event each; codes and devices voided."""
    users = list(
        User.objects.select_for_update()
        .filter(client=client)
        .exclude(mfa_method=MfaMethod.OFF)
        .order_by("pk")
    )
    events: list[AuditEvent] = []
    for user in users:
        user.client = client
        before = rules.UserState.of(user)
        user.mfa_method = MfaMethod.OFF
        events.append(mfa_event(user, before, by=by))
    User.objects.filter(pk__in=[u.pk for u in users]).update(mfa_method=MfaMethod.OFF)
    AuditEvent.objects.bulk_create(events, batch_size=500)
    if users:
        hooks.sign_in().factor_changed(users)
    return users


def _tell_admins(client: Client, was: str, turned_off: int, *, by: Actor) -> None:
    """One email to each active admin with an Email: what the move to 11.x did."""
    admins = User.objects.filter(client=client, level=Level.ADMIN, is_active=True).exclude(email="")
    for admin in admins:
        admin.client = client

        def text(n: int = turned_off) -> str:
            return ngettext(
                "Deskgate: %(client)s moved from release %(was)s to %(now)s. MFA is only "
                "available on release 25.x or later, so the MFA method of %(n)d user was set "
                "to Off and the factor policy was cleared. Users sign in with their password "
                "alone until the client is on 25.x again.",
                "Deskgate: %(client)s moved from release %(was)s to %(now)s. MFA is only "
                "available on release 25.x or later, so the MFA method of %(n)d users was set "
                "to Off and the factor policy was cleared. Users sign in with their password "
                "alone until the client is on 25.x again.",
                n,
            ) % {"client": client.name, "was": was, "now": client.release, "n": n}

        notify.tell(admin, text, by=by)
