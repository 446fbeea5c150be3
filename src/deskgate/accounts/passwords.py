"""Password rules after NIST SP 800-63B-4: length by factors, blocklists, no composition."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MIN_WITH_MFA = 8
MIN_SINGLE_FACTOR = 15
MAX_LENGTH = 1024  # far above NIST's 64; bounds the hashing work one request can ask for
_SERVICE_WORDS = ("deskgate", "leaddesk")


def _uses_mfa(user: Any) -> bool:
    return bool(user is not None and getattr(user, "client_id", None) and user.mfa_applies)


class LengthForFactorsValidator:
    """At least 8 characters when the password is one of two factors, 15 when it is alone."""

    def validate(self, password: str, user: Any = None) -> None:
        length = len(unicodedata.normalize("NFC", password))  # one code point, one character
        minimum = MIN_WITH_MFA if _uses_mfa(user) else MIN_SINGLE_FACTOR
        if length < minimum:
            why = "with MFA on" if minimum == MIN_WITH_MFA else "without MFA"
            raise ValidationError(
                f"Use at least {minimum} characters {why} (this one has {length}). "
                "A few unrelated words make a long password easy to remember.",
                code="password_too_short",
            )
        if length > MAX_LENGTH:
            raise ValidationError(f"Use at most {MAX_LENGTH} characters.", code="password_too_long")

    def get_help_text(self) -> str:
        return (
            f"At least {MIN_SINGLE_FACTOR} characters, or {MIN_WITH_MFA} when MFA is on. "
            "Any characters; no rules about digits or capitals."
        )


class ContextWordsValidator:
    """Refuse passwords built on the user name, the person's name, the client or the service."""

    def validate(self, password: str, user: Any = None) -> None:
        folded = password.casefold()
        words: list[str] = list(_SERVICE_WORDS)
        if user is not None:
            words.append(getattr(user, "username", "") or "")
            words.extend((getattr(user, "full_name", "") or "").split())
            email = getattr(user, "email", "") or ""
            words.append(email.partition("@")[0])
            if getattr(user, "client_id", None):
                words.append(user.client.name)
        for word in words:
            word = word.casefold().strip()
            if len(word) >= 4 and word in folded:
                raise ValidationError(
                    "The password must not contain your user name, your name, your company's "
                    "name or the service's name.",
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return "Not your user name, your name, your company's name or the service's name."


def policy_for(user: Any) -> list[str]:
    """The rules this user's new password must meet, as shown before the first try."""
    minimum = MIN_WITH_MFA if _uses_mfa(user) else MIN_SINGLE_FACTOR
    if minimum == MIN_WITH_MFA:
        length = _("At least %(n)d characters (your sign-in also asks for a code).")
    else:
        length = _("At least %(n)d characters (your sign-in asks for no code).")
    return [
        length % {"n": minimum},
        _("Any characters, spaces too; no rules about digits or capitals."),
        _("Not a commonly used password."),
        _("Not your user name, your name, your company's name or the service's name."),
    ]
