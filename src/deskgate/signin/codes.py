"""Code primitives: generation from `secrets`, keyed hashing, input normalisation."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

_ASCII_CODE = re.compile(r"[0-9]{6}")


def new_code() -> str:
    """Six decimal digits from the operating system's CSPRNG, leading zeros kept."""
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(attempt_token: str, code: str) -> str:
    """A keyed hash binding the code to one sign-in attempt; the code itself is not stored."""
    key = hashlib.sha256(f"deskgate.code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{attempt_token}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(attempt_token: str, submitted: str, stored_hash: str) -> bool:
    if not stored_hash or not _ASCII_CODE.fullmatch(submitted):
        # Other Unicode digits, spaces inside, signs: never a code.
        return False
    return hmac.compare_digest(code_hash(attempt_token, submitted), stored_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
