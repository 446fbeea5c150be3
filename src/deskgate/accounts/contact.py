"""Primitives for the contact fields MFA uses: parsing, normalising and masking.

Nothing here knows about HTTP, users or the database.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

USERNAME_MAX = 64
_USERNAME_RE = re.compile(r"[A-Za-z0-9_@.\-]{1,64}")
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
_email_validator = EmailValidator(message="Enter a valid email address, such as anna@example.com.")
BULLET = "\u2022"


def clean_username(raw: str) -> str:
    """Return the user name, or raise ValidationError saying what is wrong with it."""
    value = raw.strip()
    if not value:
        raise ValidationError("Enter a user name.", code="required")
    if len(value) > USERNAME_MAX:
        raise ValidationError(
            f"A user name can have at most {USERNAME_MAX} characters (this one has {len(value)}).",
            code="too_long",
        )
    if not _USERNAME_RE.fullmatch(value):
        raise ValidationError(
            "A user name can only contain letters a-z and A-Z, digits and the characters "
            "_ @ . - (no spaces).",
            code="invalid",
        )
    return value


def clean_email(raw: str) -> str:
    """Return the address trimmed and with its domain in lower case, or raise ValidationError."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value:
        return ""
    if len(value) > 254:
        raise ValidationError("An email address can have at most 254 characters.", code="too_long")
    _email_validator(value)
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """The form in which two addresses are compared: one person, one key."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def clean_work_phone(raw: str, default_country: str) -> str:
    """Parse a phone number typed by an admin into E.164, or raise ValidationError.

    A number without a leading + is read in the client's default country. Landlines are
    accepted here (the Work phone field may hold one); `is_mobile` says whether SMS can
    reach it.
    """
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value:
        return ""
    if len(value) > 32:
        raise ValidationError("That is too long to be a phone number.", code="too_long")
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_country)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"Enter a phone number such as +358 40 123 4567 (numbers without + are read as "
            f"{default_country} numbers).",
            code="invalid",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "This is not a valid phone number: check the country code and the number of digits.",
            code="invalid",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """True when an SMS can reach the number (a mobile, or a number that may be one)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def region_of(e164: str) -> str:
    """The two-letter country of a number ("FI"), or "" when it cannot be told."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def format_phone(e164: str) -> str:
    """The number grouped for reading, e.g. +358 40 1234567."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str) -> str:
    """Show the country code and the last two digits only: +358 •• ••• ••12."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return BULLET * 4
    return _masked(number)


# A phone number written into a sentence: 7 or more digits, with or without + and spaces.
_NUMBER_IN_TEXT = re.compile(r"(?<![\w@.+])\+?\d[\d \-().]{5,}\d(?![\w@])")


def mask_numbers_in(text: str) -> str:
    """`text` with every phone number in it masked as `mask_phone` does (a number without
    its country code keeps only its last two digits): for sentences about a file's rows,
    which quote the number as typed."""

    def masked(found: re.Match[str]) -> str:
        raw = found.group(0)
        digits = re.sub(r"\D", "", raw)
        if len(digits) < 7:
            return raw
        if raw.startswith("+"):
            return mask_phone("+" + digits)
        return BULLET * (len(digits) - 2) + digits[-2:]

    return _NUMBER_IN_TEXT.sub(masked, text)


def _masked(number: phonenumbers.PhoneNumber) -> str:
    national = str(number.national_number)
    hidden = BULLET * max(0, len(national) - 2) + national[-2:]
    groups = [hidden[:2], hidden[2:5], hidden[5:]]
    return f"+{number.country_code} " + " ".join(g for g in groups if g)


def mobile_and_masked(e164: str) -> tuple[bool, str]:
    """`is_mobile` and `mask_phone` of one number, parsed once: parsing is what costs
    when a page looks at thousands of numbers."""
    if not e164:
        return False, ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False, BULLET * 4
    return phonenumbers.number_type(number) in _MOBILE_TYPES, _masked(number)


def mask_email(email: str) -> str:
    """Show the first character and the domain: a••••@example.com."""
    if not email:
        return ""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}{BULLET * 4}@{domain}"


def known_regions() -> frozenset[str]:
    return frozenset(phonenumbers.SUPPORTED_REGIONS)
