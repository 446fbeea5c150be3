"""The code engine: one challenge for every code Deskgate sends, and its primitives.

A `CodeChallenge` is one code's explicit state (issued at, expiry, attempts, sends, the
keyed hash) with the rules that read it; `check` answers a `Check` reason, never a bare
bool. The sign-in code step (`challenge.py`) and the contact-change confirmation
(`contact_change.py`) both load it from their row, locked for the transaction, and save
what it changed. The length of a code is `DESKGATE_CODE['digits']` (`app_settings.CODE`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import ngettext

from deskgate.signin.app_settings import CodePolicy, app_settings

# What people type between digits, or paste around them: spaces of any kind, dashes
# (hyphen, en dash, minus...), dots, and invisible format characters (zero-width space).
_SEPARATORS = frozenset(".\u00b7\u2212")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Cf"})
# The same rule for the browser (an <input pattern>, compiled with the `v` flag): decimal
# digits of any script, with separators anywhere. The server's rule is `normalise`.
_SEP_CLASS = r"[\s\p{Pd}\p{Cf}.\u00b7\u2212]"
_LONGEST_INPUT = 64  # a pasted code with generous formatting is far shorter


class Check(StrEnum):
    """Why a submitted code was or was not accepted."""

    OK = "ok"
    WRONG = "wrong"
    REPLACED = "replaced"  # the code of an earlier send: a newer one voided it
    EXPIRED = "expired"
    TOO_MANY = "too_many"  # this code's tries are spent: ask for a new one
    LOCKED = "locked"  # the user's code step is locked (the flow's guard, not the code)
    NO_CODE = "no_code"
    MALFORMED = "malformed"  # not a code once separators are gone: no try counted


def _digits(digits: int | None) -> int:
    return app_settings.CODE.digits if digits is None else digits


def new_code(digits: int | None = None) -> str:
    """Decimal digits from the operating system's CSPRNG, leading zeros kept."""
    length = _digits(digits)
    return f"{secrets.randbelow(10**length):0{length}d}"


def not_a_code() -> str:
    """What a person reads when the input is not a code at all."""
    digits = app_settings.CODE.digits
    return ngettext("A code has %(count)d digit.", "A code has %(count)d digits.", digits) % {
        "count": digits
    }


def input_pattern() -> str:
    """The browser's <input pattern> for a code (see `normalise`)."""
    return rf"{_SEP_CLASS}*(?:\p{{Nd}}{_SEP_CLASS}*){{{app_settings.CODE.digits}}}"


def _is_code(text: str, digits: int) -> bool:
    return len(text) == digits and text.isascii() and text.isdigit()


def normalise(typed: str, digits: int | None = None) -> str | None:
    """The ASCII digits a person typed or pasted, or None if it is not a code.

    Separators are dropped (`977 743`, `977-743`, a trailing newline) and decimal digits of
    any script become ASCII (full-width, Arabic-Indic), so formatting is never a wrong
    try; anything else (letters, signs, a digit too few or too many) is not a code at all.
    """
    if len(typed) > _LONGEST_INPUT:
        return None
    found = []
    for char in typed:
        if char.isdecimal():
            found.append(str(unicodedata.decimal(char)))
        elif not (
            char.isspace()
            or char in _SEPARATORS
            or unicodedata.category(char) in _SEPARATOR_CATEGORIES
        ):
            return None
    code = "".join(found)
    return code if _is_code(code, _digits(digits)) else None


def code_hash(attempt_token: str, code: str) -> str:
    """A keyed hash binding the code to one sign-in attempt; the code itself is not stored."""
    key = hashlib.sha256(f"deskgate.code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{attempt_token}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(attempt_token: str, submitted: str, stored_hash: str) -> bool:
    if not stored_hash or not _is_code(submitted, _digits(None)):
        # Only what `normalise` answers is compared: the flows normalise first.
        return False
    return hmac.compare_digest(code_hash(attempt_token, submitted), stored_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CodeChallenge:
    """One code's state, as its row keeps it, and the rules that read it (STYLE 6).

    Pure: no database, no HTTP. The caller holds the row lock, calls `issue` or `check`,
    and saves the fields that changed in the same transaction.
    """

    binding: str  # the attempt's token: the hash of the same code elsewhere differs
    code_hash: str = ""  # the live code's keyed hash; "" when there is none
    previous_hash: str = ""  # the code a newer send replaced: REPLACED, not a wrong try
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0  # wrong tries of the live code
    sends: int = 0  # codes sent for this attempt

    def issue(self, now: datetime, policy: CodePolicy) -> str:
        """A new code replaces the live one (which becomes the previous); answer the code."""
        code = new_code(policy.digits)
        self.previous_hash = self.code_hash
        self.code_hash = code_hash(self.binding, code)
        self.issued_at = now
        self.expires_at = now + timedelta(seconds=policy.lifetime)
        self.attempts = 0  # per code; a user's consecutive failures are the flow's Lock
        self.sends += 1
        return code

    def resend_wait(self, now: datetime, policy: CodePolicy) -> int:
        """Seconds until another code may be sent."""
        if self.issued_at is None:
            return 0
        cooldown = timedelta(seconds=policy.resend_cooldown)
        return max(0, int((self.issued_at + cooldown - now).total_seconds() + 0.999))

    def expired(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at <= now

    def refusal(self, now: datetime, policy: CodePolicy) -> Check | None:
        """Why no submitted code may be compared now, or None when one may."""
        if not self.code_hash:
            return Check.NO_CODE
        if self.expired(now):
            return Check.EXPIRED
        if self.attempts >= policy.max_attempts:
            return Check.TOO_MANY
        return None

    def check(self, code: str, now: datetime, policy: CodePolicy) -> tuple[bool, Check]:
        """(accepted, reason) for a code as `normalise` answers it, compared in constant
        time. Accepted uses the code up; a wrong code counts a try; the replaced code and
        a refusal count none."""
        refused = self.refusal(now, policy)
        if refused is not None:
            return False, refused
        if matches(self.binding, code, self.code_hash):
            self.code_hash = ""  # single use
            self.previous_hash = ""
            return True, Check.OK
        if matches(self.binding, code, self.previous_hash):
            return False, Check.REPLACED
        self.attempts += 1
        return False, Check.WRONG

    def tries_left(self, policy: CodePolicy) -> int:
        return max(0, policy.max_attempts - self.attempts)


def for_sms(text: str, code: str) -> str:
    """The SMS text with the origin-bound one-time-code line last (`@host #123456`), so a
    phone offers to fill the code on our site and on no other (WebOTP, and the format
    Safari and Android's SMS Retriever read)."""
    host = urlsplit(settings.DESKGATE_BASE_URL).hostname or ""
    return f"{text}\n\n@{host} #{code}" if host else text
