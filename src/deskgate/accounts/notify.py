"""Telling a user, at the address they had, that their sign-in settings changed.

NIST SP 800-63B-4 asks for a notice through a channel independent of the change: the old
Email (or, without one, the old SMS number). Sent after the change commits; a failed
notice is audited and never undoes the change. Notices pass the same send caps and SMS
country allow-list as codes (`deskgate.delivery.caps`); a capped or refused one is
dropped and audited. A batch (a bulk action) tells each person once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import audit, contact, languages
from deskgate.accounts.models import AuditAction, AuditEvent, MfaMethod, User
from deskgate.accounts.rules import UserState
from deskgate.delivery import caps


def sign_in_settings_changed(user: User, before: UserState, *, by: audit.Actor) -> None:
    """Queue the notice when the MFA method, its destination or a contact field changed
    (the Email also receives password reset links)."""
    after = UserState.of(user)
    watched = ("mfa_method", "email", "work_phone")
    if all(getattr(before, f) == getattr(after, f) for f in watched):
        return
    with languages.in_language_of(user):
        who = gettext("you") if by.user is not None and by.user.pk == user.pk else by.label
        facts = {
            "username": user.username,
            "who": who,
            "method": MfaMethod(after.mfa_method).label,
            "to": user.masked_mfa_destination(),
        }
        if after.mfa_method != MfaMethod.OFF:
            text = (
                gettext(
                    "Deskgate: the MFA or contact information of your account %(username)s was "
                    "changed by %(who)s. MFA is now %(method)s to %(to)s. If you did not expect "
                    "this, contact your admin at once."
                )
                % facts
            )
        else:
            text = (
                gettext(
                    "Deskgate: the MFA or contact information of your account %(username)s was "
                    "changed by %(who)s. MFA is now %(method)s. If you did not expect this, "
                    "contact your admin at once."
                )
                % facts
            )
        subject = str(SUBJECT)
    if before.email:
        notice = Notice(
            "email", before.email, contact.mask_email(before.email), text, subject, user, by
        )
    elif before.mfa_method == MfaMethod.SMS and before.work_phone:
        masked = contact.mask_phone(before.work_phone)
        notice = Notice("sms", before.work_phone, masked, text, subject, user, by)
    else:
        return  # nowhere to send it
    transaction.on_commit(lambda: _send_or_collect(notice))


def factor_event(user: User, what: str | Promise, *, by: audit.Actor) -> None:
    """Tell the user, after the change commits, that `what` happened to their sign-in
    factors (an authenticator app set up, removed or reset; recovery codes made or one
    used): by Email, or by SMS to the MFA number when there is no Email. `what` is lazy
    (gettext_lazy, format_lazy): it is read in the user's language."""
    with languages.in_language_of(user):
        text = gettext(
            "Deskgate: %(what)s (account %(username)s). If this was not you, contact your "
            "admin at once."
        ) % {"what": str(what), "username": user.username}
        subject = str(SUBJECT)
    if user.email:
        notice = Notice(
            "email", user.email, contact.mask_email(user.email), text, subject, user, by
        )
    elif user.mfa_method == MfaMethod.SMS and user.work_phone:
        masked = contact.mask_phone(user.work_phone)
        notice = Notice("sms", user.work_phone, masked, text, subject, user, by)
    else:
        return  # nowhere to send it
    transaction.on_commit(lambda: _send_or_collect(notice))


SUBJECT = _("Your Deskgate sign-in settings changed")


@dataclass(frozen=True)
class Notice:
    channel: str
    to: str
    masked: str
    text: str
    subject: str
    user: User
    by: audit.Actor
    purpose: caps.Purpose = caps.Purpose.NOTICE
    about: str = "that their sign-in settings changed"  # for the audit trail's summary


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


def recipient_of(user: User) -> caps.Recipient:
    """The user as the send caps see them: whose allowance, which SMS countries."""
    return caps.Recipient(user.pk, user.client_id, tuple(user.client.sms_country_list))


def _one_per_person(notices: list[Notice]) -> list[Notice]:
    """A person changed several times in one batch gets one notice: at the destination
    they had before the first change, telling the state after the last."""
    first: dict[int, Notice] = {}
    last: dict[int, Notice] = {}
    for n in notices:
        first.setdefault(n.user.pk, n)
        last[n.user.pk] = n
    return [replace(n, text=last[pk].text, subject=last[pk].subject) for pk, n in first.items()]


def _refused(n: Notice, why: caps.Refusal) -> AuditEvent:
    if why == caps.Refusal.COUNTRY:
        return audit.build(
            AuditAction.USER_NOTICE_REFUSED_COUNTRY,
            client=n.user.client,
            by=n.by,
            subject=n.user,
            summary=f"Notice of changed sign-in settings not sent to {n.masked}: the number's "
            "country is not allowed for SMS",
            destination=n.masked,
        )
    return audit.build(
        AuditAction.USER_NOTICE_CAPPED,
        client=n.user.client,
        by=n.by,
        subject=n.user,
        summary=f"Notice of changed sign-in settings not sent to {n.masked}: hourly limit "
        f"({why.value}) reached",
        scope=why.value,
        destination=n.masked,
    )


def deliver_now(notices: list[Notice]) -> int:
    """Send `notices` at once (each audited, as after a commit); answer how many were
    handed to the server or gateway. For a sender that must know (the alerts)."""
    return _deliver(notices)


def _deliver(notices: list[Notice]) -> int:
    from deskgate.delivery import channels

    events: list[AuditEvent] = []
    admitted: list[tuple[Notice, caps.Permit]] = []
    for n in _one_per_person(notices):
        # The same caps and SMS countries as codes: a notice is a message like any other.
        answer = caps.admit(recipient_of(n.user), n.channel, n.to, purpose=n.purpose)
        if isinstance(answer, caps.Refusal):
            events.append(_refused(n, answer))  # dropped and audited, never raised
        else:
            admitted.append((n, answer))
    emails = [(n, p) for n, p in admitted if n.channel == "email"]
    failed: dict[int, str] = {}
    if emails:
        try:
            channels.send_emails([(p, n.subject, n.text) for n, p in emails])
        except channels.DeliveryError as exc:
            failed.update({id(n): str(exc) for n, _ in emails})
    for n, permit in admitted:
        if n.channel != "sms":
            continue
        try:
            channels.send_sms(permit, n.text)
        except channels.DeliveryError as exc:
            failed[id(n)] = str(exc)
    events += [
        audit.build(
            AuditAction.USER_NOTICE_FAILED,
            client=n.user.client,
            by=n.by,
            subject=n.user,
            summary=f"Notice of changed sign-in settings not delivered to {n.masked}",
            error=failed[id(n)],
        )
        if id(n) in failed
        else audit.build(
            AuditAction.USER_NOTIFIED,
            client=n.user.client,
            by=n.by,
            subject=n.user,
            summary=f"{n.user.label} told at {n.masked} {n.about}",
            channel=n.channel,
            destination=n.masked,
        )
        for n, _ in admitted
    ]
    AuditEvent.objects.bulk_create(events, batch_size=500)
    return len(admitted) - len(failed)


COMPANY_SUBJECT = _("Sign-in at your company changed")


def tell(
    user: User,
    text: Callable[[], str],
    *,
    by: audit.Actor,
    subject: Callable[[], str] | None = None,
    purpose: caps.Purpose = caps.Purpose.NOTICE,
    about: str = "that their sign-in settings changed",
) -> None:
    """Email `user` a notice about their company's account (after the change commits), its
    text made by `text()` (and its subject by `subject()`, else the usual one) in the
    user's language; a user without an Email is not told. `purpose`: the send caps' (an
    alert counts against the admin's own cap only); `about`, what the audit event says they
    were told."""
    notice = email_notice(user, text, by=by, subject=subject, purpose=purpose, about=about)
    if notice is not None:
        transaction.on_commit(lambda: _send_or_collect(notice))


def email_notice(
    user: User,
    text: Callable[[], str],
    *,
    by: audit.Actor,
    subject: Callable[[], str] | None = None,
    purpose: caps.Purpose = caps.Purpose.NOTICE,
    about: str = "that their sign-in settings changed",
) -> Notice | None:
    """The notice `tell` sends, made in the user's language; None without an Email."""
    if not user.email:
        return None
    with languages.in_language_of(user):
        body = text()
        subject_line = subject() if subject is not None else str(COMPANY_SUBJECT)
    masked = contact.mask_email(user.email)
    return Notice("email", user.email, masked, body, subject_line, user, by, purpose, about)
