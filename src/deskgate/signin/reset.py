"""Self-service password reset by email, as the vendor has it.

Off unless the client turns it on; refused when several accounts share the address; the
same answer whether or not anything was sent; a reset never signs anyone in.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from deskgate.accounts import audit, contact, notify, rules
from deskgate.accounts.models import User
from deskgate.delivery import caps, channels

REQUESTS_PER_HOUR = 3


def request_reset(email: str, *, by: audit.Actor) -> None:
    """Send a reset link if exactly one active account with reset enabled has this address."""
    key = contact.email_key(email)
    if not key:
        return
    # Counted in the database like the code caps: atomic under parallel requests, and
    # per clock hour (a cache counter's expiry would restart with every request).
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    if not caps.take(f"reset:{digest}", timezone.now(), REQUESTS_PER_HOUR):
        return
    matches = list(
        User.objects.select_related("client").filter(email__iexact=email.strip(), is_active=True)[
            :2
        ]
    )
    if len(matches) != 1:
        return  # none, or several accounts share the address: no mail at all
    user = matches[0]
    if not user.client.password_reset_enabled or not user.has_usable_password():
        return
    if rules.sso_mandatory(user.client):
        return  # no password to reset: the company signs in through SSO
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # The link is built from a fixed setting, never from the request's Host header.
    link = settings.DESKGATE_BASE_URL + reverse("signin:reset_confirm", args=[uid, token])
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    masked = contact.mask_email(user.email)
    # A reset link is a message like a code: the same hourly caps.
    permit = caps.admit(notify.recipient_of(user), "email", user.email)
    if isinstance(permit, caps.Refusal):
        audit.record(
            "password.reset_capped",
            client=user.client,
            by=by,
            subject=user,
            summary=f"Password reset link not sent to {masked}: hourly limit ({permit}) reached",
            scope=permit.value,
        )
        return
    try:
        channels.send_email(
            permit,
            "Reset your Deskgate password",
            f"Hello {user.full_name},\n\nSomeone asked to reset the password of your Deskgate "
            f"account {user.username}. To choose a new password, open this link within "
            f"{minutes} minutes:\n\n{link}\n\nIf it was not you, ignore this message; your "
            "password stays as it is.\n",
        )
    except channels.DeliveryError as exc:
        audit.record(
            "password.reset_send_failed",
            client=user.client,
            by=by,
            subject=user,
            summary=f"Password reset link could not be sent to {masked}",
            error=str(exc),
        )
        return
    audit.record(
        "password.reset_requested",
        client=user.client,
        by=by,
        subject=user,
        summary=f"Password reset link sent to {masked}",
        destination=masked,
    )


def user_for_link(uidb64: str, token: str) -> User | None:
    """The user a reset link is for, if the link is genuine, unused and not expired."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    user = User.objects.select_related("client").filter(pk=pk, is_active=True).first()
    if user is None or not user.client.password_reset_enabled or rules.sso_mandatory(user.client):
        return None
    if not default_token_generator.check_token(user, token):
        return None
    return user
