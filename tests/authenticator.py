"""Setting a user's authenticator app up in a test, and reading the app's codes.

`enrol(user)` goes through the product's own flows (start, confirm with the app's code)
and answers the secret and the recovery codes; `app_code(secret, steps=0)` is the code a
phone shows at Django's clock now, `steps` 30-second steps away (the `clock` fixture moves
Django's clock; pyotp is given that time, never its own).
"""

from __future__ import annotations

from datetime import timedelta

import pyotp
from django.utils import timezone

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import User
from deskgate.signin import factors

BY_SELF = Actor(ip="127.0.0.1")


def app_code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(timezone.now() + timedelta(seconds=30 * steps))


def enrol(user: User) -> tuple[str, list[str]]:
    """Set the app up as the user would; answer (secret, recovery codes as shown)."""
    enrolment = factors.start_enrolment(user)
    by = Actor(user=user, ip="127.0.0.1")
    codes = factors.confirm_enrolment(user, app_code(enrolment.secret), by=by)
    return enrolment.secret, codes
