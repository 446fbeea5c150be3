"""A user changes their own Email or Work phone (their password: `actions.passwords`), and
their language and time zone.

The caller's flow (`signin.contact_change`) re-authenticates the user and proves the new
destination with a code; these actions check every rule and write.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from deskgate.accounts import audit, contact, languages, rules
from deskgate.accounts.actions.users import (
    UserInput,
    UserSaved,
    stored_with,
    validate_user,
    write_user,
)
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, User

OWN_CONTACT_FIELDS = ("email", "work_phone")


def check_own_contact(user: User, field: str, value: str) -> str:
    """Validate a user's new Email or Work phone without saving; answer it cleaned."""
    if field not in OWN_CONTACT_FIELDS:
        raise ValidationError({field: ["Only Email and Work phone can be changed here."]})
    data = UserInput.of(user)
    setattr(data, field, value)
    state = validate_user(user.client, data, user_id=user.pk, before=rules.UserState.of(user))
    phone = state.work_phone
    if field == "work_phone" and phone:
        # The new number is confirmed by SMS: it must be able to take one, and the client's
        # SMS countries bound what a user can make Deskgate send (SMS pumping).
        if not contact.is_mobile(phone):
            raise ValidationError(
                {
                    field: [
                        f"{contact.format_phone(phone)} is not a mobile number; a new Work "
                        "phone is confirmed with a code by SMS. Ask your admin to enter a "
                        "landline."
                    ]
                }
            )
        if not user.client.sms_allowed_to(phone):
            raise ValidationError(
                {
                    field: [
                        f"{user.client.name} sends SMS only to numbers in "
                        f"{', '.join(user.client.sms_country_list)}: ask your admin."
                    ]
                }
            )
    return str(getattr(state, field))


def change_own_contact(user: User, field: str, value: str, *, by: Actor) -> UserSaved:
    """A user changes their own Email or Work phone, after re-authenticating and
    confirming the new destination with a code (the caller's flow proves both)."""
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied(
            gettext("Only the user can change their own contact information here.")
        )
    if field not in OWN_CONTACT_FIELDS:
        raise ValidationError({field: ["Only Email and Work phone can be changed here."]})
    return write_user(user, by=by, build=stored_with(**{field: value}), recheck=False)


def change_own_preferences(user: User, *, language: str, time_zone: str, by: Actor) -> User:
    """A user picks the language and time zone they read Deskgate in ("" for each: their
    client's default). Refuses an unknown language or zone, naming it."""
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied(
            gettext("Only the user can change their own language and time zone.")
        )
    language, time_zone = language.strip(), time_zone.strip()
    errors: dict[str, list[str]] = {}
    wrong_language = languages.check_language(language, field="language")
    if wrong_language:
        errors["language"] = [wrong_language]
    wrong_zone = languages.check_time_zone(time_zone)
    if wrong_zone:
        errors["time_zone"] = [wrong_zone]
    if errors:
        raise ValidationError(errors)
    if (user.language, user.time_zone) == (language, time_zone):
        return user
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(language=language, time_zone=time_zone)
        user.language, user.time_zone = language, time_zone
        audit.record(
            AuditAction.USER_PREFERENCES_CHANGED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} chose language {language or 'default'} and time zone "
            f"{time_zone or 'default'}",
            language=language,
            time_zone=time_zone,
        )
    return user
