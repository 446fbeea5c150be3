"""Code primitives: generation from `secrets`, keyed hashing, input normalisation."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from django.conf import settings

_ASCII_CODE = re.compile(r"[0-9]{6}")
NOT_A_CODE = "A code has 6 digits."
# What people type between digits, or paste around them: spaces of any kind, dashes
# (hyphen, en dash, minus...), dots, and invisible format characters (zero-width space).
_SEPARATORS = frozenset(".\u00b7\u2212")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Cf"})
# The same rule for the browser (an <input pattern>, compiled with the `v` flag): six
# decimal digits of any script, with separators anywhere. The server's rule is `normalise`.
_SEP_CLASS = r"[\s\p{Pd}\p{Cf}.\u00b7\u2212]"
INPUT_PATTERN = rf"{_SEP_CLASS}*(?:\p{{Nd}}{_SEP_CLASS}*){{6}}"
_LONGEST_INPUT = 64  # a pasted code with generous formatting is far shorter


def new_code() -> str:
    """Six decimal digits from the operating system's CSPRNG, leading zeros kept."""
    return f"{secrets.randbelow(10**6):06d}"


def normalise(typed: str) -> str | None:
    """The six ASCII digits a person typed or pasted, or None if it is not six digits.

    Separators are dropped (`977 743`, `977-743`, a trailing newline) and decimal digits of
    any script become ASCII (full-width, Arabic-Indic), so formatting is never a wrong
    try; anything else (letters, signs, five or seven digits) is not a code at all.
    """
    if len(typed) > _LONGEST_INPUT:
        return None
    digits = []
    for char in typed:
        if char.isdecimal():
            digits.append(str(unicodedata.decimal(char)))
        elif not (
            char.isspace()
            or char in _SEPARATORS
            or unicodedata.category(char) in _SEPARATOR_CATEGORIES
        ):
            return None
    code = "".join(digits)
    return code if _ASCII_CODE.fullmatch(code) else None


def code_hash(attempt_token: str, code: str) -> str:
    """A keyed hash binding the code to one sign-in attempt; the code itself is not stored."""
    key = hashlib.sha256(f"deskgate.code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{attempt_token}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(attempt_token: str, submitted: str, stored_hash: str) -> bool:
    if not stored_hash or not _ASCII_CODE.fullmatch(submitted):
        # Only what `normalise` answers is compared: the flows normalise first.
        return False
    return hmac.compare_digest(code_hash(attempt_token, submitted), stored_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
