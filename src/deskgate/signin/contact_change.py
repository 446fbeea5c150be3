"""A user changes their own Email or Work phone: re-authenticate with the password, then
prove the new destination with a code sent there; only then is it saved (and used for
MFA). The change goes through `actions.change_own_contact`, so every rule applies."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import actions, alerts, audit, contact, languages, notify
from deskgate.accounts.models import AuditAction, User
from deskgate.delivery import caps, channels
from deskgate.signin import codes
from deskgate.signin.app_settings import app_settings
from deskgate.signin.codes import Check, CodeChallenge
from deskgate.signin.models import ContactChange

FIELD_LABELS = {"email": _("Email"), "work_phone": _("Work phone")}
# The audit trail is stored in English, whoever reads it.
ENGLISH_LABELS = {"email": "Email", "work_phone": "Work phone"}
EXPIRED = _("This change expired or was not started. Start it again.")


@dataclass(frozen=True)
class Started:
    ok: bool
    message: str


def mask(field: str, value: str) -> str:
    return contact.mask_email(value) if field == "email" else contact.mask_phone(value)


def start(user: User, field: str, cleaned_value: str, *, by: audit.Actor) -> Started:
    """Send a code to the new destination (the caller re-authenticated and validated it)."""
    now = timezone.now()
    challenge = CodeChallenge(binding=secrets.token_urlsafe(32))
    code = challenge.issue(now, app_settings.CODE)
    with transaction.atomic():
        channel = "email" if field == "email" else "sms"
        # The caps and the SMS countries, as for every message (the new number was checked
        # against the countries already; the gate checks again).
        permit = caps.admit(notify.recipient_of(user), channel, cleaned_value, now=now)
        if permit == caps.Refusal.COUNTRY:
            return Started(
                False, gettext("SMS to that number's country is not allowed: ask your admin.")
            )
        if isinstance(permit, caps.Refusal):
            alerts.send_capped(user, permit.value, now=now)
            return Started(False, str(caps.SCOPE_MESSAGES[permit.value]))
        ContactChange.objects.update_or_create(
            user=user,
            defaults={
                "field": field,
                "new_value": cleaned_value,
                **ContactChange.columns(challenge),
            },
        )
    minutes = app_settings.CODE.lifetime_minutes
    with languages.in_language_of(user, fallback=translation.get_language()):
        text = ngettext(
            "Your Deskgate confirmation code is %(code)s. Enter it to confirm this as your "
            "%(field)s. It is valid for %(count)d minute.",
            "Your Deskgate confirmation code is %(code)s. Enter it to confirm this as your "
            "%(field)s. It is valid for %(count)d minutes.",
            minutes,
        ) % {"code": code, "field": FIELD_LABELS[field], "count": minutes}
        subject = gettext("Confirm your new Deskgate email address")
    try:
        if field == "email":
            channels.send_email(permit, subject, text)
        else:
            channels.send_sms(permit, codes.for_sms(text, code))
    except channels.DeliveryError:
        ContactChange.objects.filter(user=user, token=challenge.binding).delete()
        return Started(
            False,
            gettext(
                "We could not send the confirmation code, so nothing changed. Try again in a "
                "moment."
            ),
        )
    where = mask(field, cleaned_value)
    audit.record(
        AuditAction.USER_CONTACT_CONFIRMATION_SENT,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Confirmation code for a new {ENGLISH_LABELS[field]} sent to {where}",
        field=field,
        destination=where,
    )
    return Started(
        True, gettext("We sent a code to %(to)s. Enter it to confirm the change.") % {"to": where}
    )


def pending_for(user: User) -> ContactChange | None:
    change = ContactChange.objects.filter(user=user).first()
    if change is None or change.challenge().expired(timezone.now()):
        return None
    return change


def confirm(user: User, submitted: str, *, by: audit.Actor) -> str | None:
    """Apply the change if the code is right; answer None, or what is wrong.

    The code engine's check, as at sign-in (without the user's code lock): input that is
    not a code (after `codes.normalise`) counts no try, a wrong code counts one.
    """
    code = codes.normalise(submitted)
    if code is None:
        return codes.not_a_code()
    conf = app_settings.CODE
    with transaction.atomic():
        change = ContactChange.objects.select_for_update().filter(user=user).first()
        if change is None:
            return str(EXPIRED)
        challenge = change.challenge()
        accepted, reason = challenge.check(code, timezone.now(), conf)
        if reason == Check.WRONG:
            change.save(update_fields=change.keep(challenge))
            left = challenge.tries_left(conf)
            return (
                gettext("That code is not right.")
                + " "
                + ngettext("%(count)d try left.", "%(count)d tries left.", left) % {"count": left}
            )
        if reason == Check.TOO_MANY:
            return gettext("That was the last try for this code. Start the change again.")
        if not accepted:
            return str(EXPIRED)
        field, value = change.field, change.new_value
        change.delete()
    actions.change_own_contact(user, field, value, by=by)  # every rule checked again
    if field == "email":  # the code reached it: the address is proven (email_verified)
        actions.note_email_proven(user, value)
    return None
