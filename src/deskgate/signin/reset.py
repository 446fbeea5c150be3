"""Self-service password reset by email, as the vendor has it.

Off unless the client turns it on; decided per client: an address used by one account in
each of several companies gets one link per account, an address shared inside one company
gets none there. The request answers the same, in the same time, whether or not anything
will be sent: it only queues the request (`reset_delivery` decides and sends after the
response). A reset never signs anyone in; proven by the emailed link, it ends the
password lock.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode

from deskgate.accounts import actions, audit, contact, rules, sessions
from deskgate.accounts.models import AuditAction, User
from deskgate.signin import caps
from deskgate.signin.app_settings import app_settings
from deskgate.signin.models import ResetMail, ResetRequest, SignInGuard

MAX_ADDRESS = 254


def request_reset(email: str, *, by: audit.Actor) -> None:
    """Queue a reset request for this address; the reset mail worker takes it from there.

    The work here is the same for every address that could belong to anyone: one counter
    per requester, one row, one commit. Nothing is looked up, so nothing can be told apart.
    """
    address = email.strip()
    if "@" not in address or len(address) > MAX_ADDRESS or not contact.email_key(address):
        return  # no account can have it (the Email field is a valid address)
    if "\x00" in address:
        return  # no database stores it; no account can have it either
    from deskgate.signin import reset_delivery

    now = timezone.now()
    with transaction.atomic():
        # Per requester, counted in the database in one statement (caps.take): one source
        # cannot fill the queue or the mail server. The owner is never counted here alone.
        if by.ip and not caps.take(f"reset-ip:{by.ip}", now, app_settings.RESET.per_ip_hour):
            return
        ResetRequest.objects.create(email=address, ip=by.ip, requested_at=now)
        transaction.on_commit(reset_delivery.worker.kick)


def user_for_link(uidb64: str, token: str) -> User | None:
    """The user a reset link is for, if the link is genuine, unused and not expired."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    user = User.objects.select_related("client").filter(pk=pk, is_active=True).first()
    if user is None or not may_reset(user):
        return None
    if not default_token_generator.check_token(user, token):
        return None
    return user


def may_reset(user: User) -> bool:
    """Whether this account may reset its password by email at all (its company allows
    it, it has a password, and its company does not sign in through SSO only)."""
    if not user.client.password_reset_enabled or not user.has_usable_password():
        return False
    return not rules.sso_mandatory(user.client)


def complete_reset(user: User, new_password: str, *, by: audit.Actor) -> None:
    """Set the password chosen through a genuine reset link; raises ValidationError when
    the password rules refuse it.

    The link proves the person holds the account's Email, so the password lock (wrong
    passwords typed by anyone) ends with it, as its own audit event; the code lock (R7)
    stays: the link is no second factor. Every session and every other link ends.
    """
    with transaction.atomic():
        actions.set_password(user, new_password, by=by)
        now = timezone.now()
        ResetMail.objects.filter(user=user, used_at=None).update(used_at=now)
        _end_password_lock(user, now, by=by)
    sessions.end_all(user)


def _end_password_lock(user: User, now: datetime, *, by: audit.Actor) -> None:
    guard = SignInGuard.objects.select_for_update().filter(user=user).first()
    if guard is None:
        return
    lock = guard.password_lock
    locked = lock.locked(now)
    if not lock.clear():
        return
    guard.save(update_fields=guard.keep_password_lock(lock))
    if locked:
        audit.record(
            AuditAction.USER_PASSWORD_LOCK_ENDED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Password lock of {user.label} ended by a reset through the emailed link",
        )
