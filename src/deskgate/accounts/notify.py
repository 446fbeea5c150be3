"""Telling a user, at the address they had, that their sign-in settings changed.

NIST SP 800-63B-4 asks for a notice through a channel independent of the change: the old
Email (or, without one, the old SMS number). Sent after the change commits; a failed
notice is audited and never undoes the change.
"""

from __future__ import annotations

import logging

from django.db import transaction

from deskgate.accounts import audit, contact
from deskgate.accounts.models import MfaMethod, User
from deskgate.accounts.rules import UserState

log = logging.getLogger(__name__)


def sign_in_settings_changed(user: User, before: UserState, *, by: audit.Actor) -> None:
    """Queue the notice when the MFA method, its destination or a contact field changed
    (the Email also receives password reset links)."""
    after = UserState.of(user)
    watched = ("mfa_method", "email", "work_phone")
    if all(getattr(before, f) == getattr(after, f) for f in watched):
        return
    who = "you" if by.user is not None and by.user.pk == user.pk else by.label
    method = MfaMethod(after.mfa_method).label
    where = f" to {user.masked_mfa_destination()}" if after.mfa_method != MfaMethod.OFF else ""
    text = (
        f"Deskgate: the MFA or contact information of your account {user.username} was "
        f"changed by {who}. MFA is now {method}{where}. If you did not expect this, contact your "
        "admin at once."
    )
    if before.email:
        channel, to, masked = "email", before.email, contact.mask_email(before.email)
    elif before.mfa_method == MfaMethod.SMS and before.work_phone:
        channel, to, masked = "sms", before.work_phone, contact.mask_phone(before.work_phone)
    else:
        return  # nowhere to send it

    def send() -> None:
        from deskgate.delivery import channels

        try:
            if channel == "email":
                channels.send_email(to, "Your Deskgate sign-in settings changed", text)
            else:
                channels.send_sms(to, text)
        except channels.DeliveryError as exc:
            audit.record(
                "user.notice_failed",
                client=user.client,
                by=by,
                subject=user,
                summary=f"Notice of changed sign-in settings not delivered to {masked}",
                error=str(exc),
            )
            return
        audit.record(
            "user.notified",
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} told at {masked} that their sign-in settings changed",
            channel=channel,
            destination=masked,
        )

    transaction.on_commit(send)
