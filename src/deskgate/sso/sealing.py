"""Encrypting a client's SSO secret at rest (Fernet, key derived from SECRET_KEY)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"deskgate.sso-secret:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str | None:
    """The secret, or None when SECRET_KEY changed since it was saved (enter it again)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
