"""The contact primitives: user names, email addresses, phone numbers and their masks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from deskgate.accounts import contact

BULLET = "\u2022"


# --- user names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anna", "anna"),
        ("  anna.admin  ", "anna.admin"),
        ("Anna_Admin-2@northwind.example", "Anna_Admin-2@northwind.example"),
        ("007", "007"),
        ("a" * 64, "a" * 64),
    ],
    ids=["plain", "trimmed", "every-allowed-character", "digits-only", "64-characters"],
)
def test_username_accepted(raw: str, expected: str) -> None:
    assert contact.clean_username(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        ("", "required", "Enter a user name"),
        ("   ", "required", "Enter a user name"),
        ("a" * 65, "too_long", "at most 64 characters (this one has 65)"),
        ("anna smith", "invalid", "no spaces"),
        ("anna!", "invalid", "_ @ . -"),
        ("anna+tag", "invalid", "_ @ . -"),
        ("anna/x", "invalid", "_ @ . -"),
        ("\u00e4nna", "invalid", "a-z and A-Z"),
        ("anna\u0663", "invalid", "digits"),  # an Arabic-Indic digit is not 0-9
        ("an\tna", "invalid", "_ @ . -"),
    ],
    ids=[
        "empty",
        "blank",
        "65-characters",
        "space",
        "exclamation",
        "plus",
        "slash",
        "non-ascii-letter",
        "non-ascii-digit",
        "tab",
    ],
)
def test_username_refused(raw: str, code: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        contact.clean_username(raw)
    assert caught.value.code == code
    assert says in caught.value.messages[0]


# --- email addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anna@example.com", "anna@example.com"),
        ("  anna@example.com \t", "anna@example.com"),
        ("Anna@Example.COM", "Anna@example.com"),
        ("Anna.O'Neil+desk@Example.com", "Anna.O'Neil+desk@example.com"),
        ("\uff41nna@\uff25xample.com", "anna@example.com"),  # full-width letters, NFKC
        ("", ""),
        ("   ", ""),
    ],
    ids=[
        "plain",
        "trimmed",
        "domain-lower-cased-local-part-kept",
        "plus-and-apostrophe",
        "full-width-normalised",
        "empty-means-none",
        "blank-means-none",
    ],
)
def test_email_cleaned(raw: str, expected: str) -> None:
    assert contact.clean_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "anna example@example.com",
        "a" * 250 + "@x.fi",
    ],
    ids=["no-at", "no-domain", "no-local-part", "no-top-level-domain", "space", "255-characters"],
)
def test_email_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        contact.clean_email(raw)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("anna@example.com", "ANNA@EXAMPLE.COM", True),
        ("Anna@Example.com", " anna@example.com ", True),
        ("\uff41nna@example.com", "anna@example.com", True),
        ("anna@example.com", "anna@example.fi", False),
        ("anna@example.com", "anna.b@example.com", False),
    ],
    ids=["case", "case-and-spaces", "full-width", "other-domain", "other-local-part"],
)
def test_email_keys_compare_one_person_case_insensitively(a: str, b: str, same: bool) -> None:
    assert (contact.email_key(a) == contact.email_key(b)) is same


# --- phone numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+358 40 123 4567", "FI", "+358401234567"),
        ("+358401234567", "FI", "+358401234567"),
        ("040 123 4567", "FI", "+358401234567"),
        ("040-1234567", "FI", "+358401234567"),
        ("00358 40 123 4567", "FI", "+358401234567"),
        ("09 1234567", "FI", "+35891234567"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("415 555 2671", "US", "+14155552671"),
        ("+46 70 123 45 67", "FI", "+46701234567"),
        ("+358 40 123 4567", "US", "+358401234567"),
        ("", "FI", ""),
        ("  ", "FI", ""),
    ],
    ids=[
        "international-grouped",
        "e164",
        "national-default-country",
        "national-with-hyphen",
        "international-prefix-00",
        "landline-accepted-by-the-parser",
        "other-default-country",
        "us-default-country",
        "plus-ignores-default-country",
        "plus-ignores-us-default",
        "empty-means-none",
        "blank-means-none",
    ],
)
def test_phone_parsed_to_e164(raw: str, country: str, expected: str) -> None:
    assert contact.clean_work_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("abc", "numbers without + are read as FI numbers"),
        ("+999 123456", "Enter a phone number"),
        ("12", "not a valid phone number"),
        ("+358 40 123 456 789", "not a valid phone number"),
        ("+358 " + "4" * 40, "too long"),
    ],
    ids=["letters", "unknown-country-code", "too-few-digits", "too-many-digits", "over-32-chars"],
)
def test_phone_refused(raw: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        contact.clean_work_phone(raw, "FI")
    assert says in caught.value.messages[0]


@pytest.mark.parametrize(
    ("e164", "mobile"),
    [
        ("+358401234567", True),
        ("+358501234567", True),
        ("+35891234567", False),  # Helsinki landline
        ("+442071838750", False),  # London landline
        ("+447911123456", True),
        ("+46701234567", True),
        ("+14155552671", True),  # North America: fixed line or mobile, SMS may reach it
        ("not a number", False),
        ("", False),
    ],
    ids=[
        "fi-mobile-040",
        "fi-mobile-050",
        "fi-landline-helsinki",
        "uk-landline-london",
        "uk-mobile",
        "se-mobile",
        "us-fixed-or-mobile",
        "garbage",
        "empty",
    ],
)
def test_landline_or_mobile(e164: str, mobile: bool) -> None:
    assert contact.is_mobile(e164) is mobile


def test_format_phone_groups_for_reading() -> None:
    assert contact.format_phone("+358401234567") == "+358 40 1234567"
    assert contact.format_phone("") == ""


# --- masks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("anna@example.com", f"a{BULLET * 4}@example.com"),
        ("Bo@example.fi", f"B{BULLET * 4}@example.fi"),
        ("x@y.fi", f"x{BULLET * 4}@y.fi"),
        ("a.very.long.local.part@example.com", f"a{BULLET * 4}@example.com"),
        ("", ""),
    ],
    ids=["plain", "short", "one-letter", "long-local-part-hides-its-length", "empty"],
)
def test_email_mask_shows_first_character_and_domain(email: str, masked: str) -> None:
    assert contact.mask_email(email) == masked


@pytest.mark.parametrize(
    ("e164", "country_code"),
    [
        ("+358401234512", "+358"),
        ("+35891234567", "+358"),
        ("+46701234567", "+46"),
        ("+447911123456", "+44"),
        ("+14155552671", "+1"),
        ("+4915123456789", "+49"),
    ],
    ids=["fi-mobile", "fi-landline", "se-mobile", "uk-mobile", "us", "de-mobile"],
)
def test_phone_mask_shows_only_country_code_and_last_two_digits(
    e164: str, country_code: str
) -> None:
    masked = contact.mask_phone(e164)
    head, _, rest = masked.partition(" ")
    assert head == country_code
    national = e164[len(country_code) :]
    visible = [ch for ch in rest if ch.isdigit()]
    assert visible == list(national[-2:])
    assert rest.endswith(national[-2:])
    # Every other national digit is a bullet, so the length stays readable but not the number.
    assert rest.count(BULLET) == len(national) - 2
    assert set(rest) <= {BULLET, " ", *national[-2:]}


def test_phone_mask_of_finnish_mobile() -> None:
    masked = contact.mask_phone("+358401234512")
    assert masked == "+358 •• ••• ••12"  # PRODUCT.md's example
    assert masked.startswith("+358 ")
    assert masked.endswith("12")
    assert "40" not in masked and "1234" not in masked
    assert contact.mask_phone("") == ""
