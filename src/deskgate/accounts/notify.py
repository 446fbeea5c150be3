"""Telling a user, at the address they had, that their sign-in settings changed.

NIST SP 800-63B-4 asks for a notice through a channel independent of the change: the old
Email (or, without one, the old SMS number). Sent after the change commits; a failed
notice is audited and never undoes the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import transaction

from deskgate.accounts import audit, contact
from deskgate.accounts.models import AuditEvent, MfaMethod, User
from deskgate.accounts.rules import UserState


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
        notice = Notice("email", before.email, contact.mask_email(before.email), text, user, by)
    elif before.mfa_method == MfaMethod.SMS and before.work_phone:
        masked = contact.mask_phone(before.work_phone)
        notice = Notice("sms", before.work_phone, masked, text, user, by)
    else:
        return  # nowhere to send it
    transaction.on_commit(lambda: _send_or_collect(notice))


SUBJECT = "Your Deskgate sign-in settings changed"


@dataclass(frozen=True)
class Notice:
    channel: str
    to: str
    masked: str
    text: str
    user: User
    by: audit.Actor


_batch: ContextVar[list[Notice] | None] = ContextVar("deskgate_notice_batch", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the notices of many changes (a bulk action) and send them at the end, the
    emails over one SMTP connection, instead of one by one inside the loop."""
    collected: list[Notice] = []
    token = _batch.set(collected)
    try:
        yield
    finally:
        _batch.reset(token)
        _deliver(collected)


def _send_or_collect(notice: Notice) -> None:
    collected = _batch.get()
    if collected is None:
        _deliver([notice])
    else:
        collected.append(notice)


def _deliver(notices: list[Notice]) -> None:
    from deskgate.delivery import channels

    emails = [n for n in notices if n.channel == "email"]
    failed: dict[int, str] = {}
    if emails:
        try:
            channels.send_emails([(n.to, SUBJECT, n.text) for n in emails])
        except channels.DeliveryError as exc:
            failed.update({id(n): str(exc) for n in emails})
    for n in notices:
        if n.channel != "sms":
            continue
        try:
            channels.send_sms(n.to, n.text)
        except channels.DeliveryError as exc:
            failed[id(n)] = str(exc)
    AuditEvent.objects.bulk_create(
        [
            audit.build(
                "user.notice_failed",
                client=n.user.client,
                by=n.by,
                subject=n.user,
                summary=f"Notice of changed sign-in settings not delivered to {n.masked}",
                error=failed[id(n)],
            )
            if id(n) in failed
            else audit.build(
                "user.notified",
                client=n.user.client,
                by=n.by,
                subject=n.user,
                summary=f"{n.user.label} told at {n.masked} that their sign-in settings changed",
                channel=n.channel,
                destination=n.masked,
            )
            for n in notices
        ],
        batch_size=500,
    )
