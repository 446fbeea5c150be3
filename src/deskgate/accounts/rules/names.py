"""Text an admin types that other people read: names in messages and the audit trail.

Control and invisible characters are refused, never removed, so what was typed is shown back.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from deskgate.accounts import contact

FULL_NAME_MAX = 200
# Control (Cc), format (Cf: bidi overrides and isolates, zero-width space, soft hyphen),
# surrogate, private-use and line/paragraph separator characters: invisible or
# misleading in a message or an audit row, and never part of a name.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# Zero-width non-joiner and joiner shape letters in some scripts (Persian, Devanagari...):
# kept between two letters or marks, where they do that, and refused anywhere else.
_JOINERS = frozenset({"\u200c", "\u200d"})
_LINE_BREAKS = frozenset("\t\n\r")


def _is_letter_or_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def invisible_characters(
    text: str, *, line_breaks: bool = False, formats: bool = True
) -> list[str]:
    """The characters of `text` that a name or subject may not hold, each once, in order.

    `line_breaks`: tab, line feed and carriage return are allowed (a message body); else
    a caller that collapses whitespace has turned them into spaces already, or must refuse
    them (a subject is one line). `formats=False` refuses control characters only: a
    message to customers may need bidi marks, or joiners inside emoji.
    """
    found: list[str] = []
    for i, ch in enumerate(text):
        if ch in _LINE_BREAKS and line_breaks:
            continue
        if not formats:
            if unicodedata.category(ch) not in ("Cc", "Cs"):
                continue
        elif ch in _JOINERS:
            between = 0 < i < len(text) - 1 and all(
                _is_letter_or_mark(c) for c in (text[i - 1], text[i + 1])
            )
            if between:
                continue
        elif unicodedata.category(ch) not in _REFUSED_CATEGORIES:
            continue
        if ch not in found:
            found.append(ch)
    return found


def _shown(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def invisible_characters_message(label: str, found: list[str]) -> str:
    shown = ", ".join(_shown(ch) for ch in found[:5])
    return (
        f"{label} cannot contain control or invisible characters, and this one has {shown}. "
        "Type it again rather than pasting it."
    )


def check_text(
    text: str, label: str, *, line_breaks: bool = False, formats: bool = True
) -> list[str]:
    """Refusals for free text an admin types that other people read."""
    found = invisible_characters(text, line_breaks=line_breaks, formats=formats)
    return [invisible_characters_message(label, found)] if found else []


def clean_name(raw: str, label: str, max_length: int) -> str:
    """A name as kept (runs of whitespace made one space), or ValidationError saying why not.

    Tab, line feed and carriage return are pasted along with names and become spaces; every
    other control or format character is refused, not removed: what was typed is shown back.
    """
    found = invisible_characters(raw.replace("\t", " ").replace("\n", " ").replace("\r", " "))
    if found:
        raise ValidationError(invisible_characters_message(label, found), code="invisible")
    value = " ".join(raw.split())
    if len(value) > max_length:
        raise ValidationError(
            gettext("%(label)s can have at most %(max_length)s characters (it has %(len)s).")
            % {"label": label, "max_length": max_length, "len": len(value)},
            code="too_long",
        )
    return value


def clean_email(raw: str) -> str:
    """An Email as stored: an address that looks like another (a zero-width space in its
    domain) would slip past R4 and SSO's match by Email, so it is refused."""
    found = invisible_characters(raw)
    if found:
        raise ValidationError(invisible_characters_message("Email", found), code="invisible")
    return contact.clean_email(raw)


def clean_full_name(raw: str) -> str:
    """A user's Full name: the same answer for the page, the API and the command line."""
    value = clean_name(raw, "Full name", FULL_NAME_MAX)
    if not value:
        raise ValidationError(gettext("Full name is mandatory."), code="required")
    return value
