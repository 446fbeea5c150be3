"""Primitives of the authenticator app (TOTP, RFC 6238) and of recovery codes.

Pure: no database, no HTTP. The flows (`factors.py`) hold the rows and the locks.

- A TOTP secret is 160 random bits (RFC 4226's recommended length), base32 as the apps
  take it; at rest it is encrypted with Fernet under a key derived from SECRET_KEY
  (`seal`/`unseal`, as the SSO client secrets are).
- A code is checked against the steps t-1, t and t+1 (30 s each: ±1 step of clock drift)
  in constant time; the flow then accepts the matched step only if it is newer than the
  last one used.
- A recovery code is 10 characters from an alphabet without look-alikes (about 49 bits),
  shown as `abcde-fghjk`, stored as a keyed hash bound to its user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from deskgate.signin import codes

DIGITS = 6  # what every authenticator app shows, whatever DESKGATE_CODE says for codes
STEP = 30  # seconds per code (RFC 6238's default; what the apps assume)
DRIFT = 1  # steps either side of now that are accepted
ISSUER = "Deskgate"
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 10
RECOVERY_COUNT = 10


def new_secret() -> str:
    """160 bits from the CSPRNG, base32 (32 characters)."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def grouped(secret: str) -> str:
    """The secret as a person types it: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"deskgate.totp-secret:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None when SECRET_KEY changed since it was sealed (set the app up again)."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP


def matching_step(secret: str, typed: str, now: datetime) -> int | None:
    """The time step (t-1, t or t+1) whose code `typed` is, or None. Every candidate is
    compared, in constant time, whatever matched first."""
    code = codes.normalise(typed, DIGITS)
    if code is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    now_step = step_at(now)
    found = None
    for step in range(now_step - DRIFT, now_step + DRIFT + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), code.encode()) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI the QR code carries (Google Authenticator's key URI format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no XML declaration, sized by CSS), made here."""
    qr = segno.make(uri, error="m", micro=False)
    svg: str = qr.svg_inline(scale=4, border=2, title="QR code for your authenticator app")
    return svg


def new_recovery_codes() -> list[str]:
    """RECOVERY_COUNT codes, each RECOVERY_LENGTH characters from the CSPRNG."""
    found: list[str] = []
    while len(found) < RECOVERY_COUNT:
        code = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        if code not in found:
            found.append(code)
    return found


def shown(code: str) -> str:
    """A recovery code as the page shows it: two groups of five."""
    half = RECOVERY_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_recovery(typed: str) -> str | None:
    """The code a person typed (any case, with or without the dash and spaces), or None."""
    if len(typed) > 64:
        return None
    code = "".join(ch for ch in typed.lower() if not (ch.isspace() or ch in "-‐–—"))
    if len(code) != RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in code):
        return None
    return code


def recovery_hash(user_id: int, code: str) -> str:
    """A keyed hash bound to the user: the same code of another user hashes differently."""
    key = hashlib.sha256(f"deskgate.recovery-code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def normalise_code(typed: str) -> str | None:
    """The app's six digits as typed or pasted (`codes.normalise`), or None."""
    return codes.normalise(typed, DIGITS)
