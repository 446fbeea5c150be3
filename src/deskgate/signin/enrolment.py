"""The single-use enrolment link by Email (issue 14): how a user with no factor they can
prove sets up a strong one, never on the password alone.

Sent by the user's admin (the user page's "Send set-up link") or by the user at sign-in,
after their password, when they have nothing else to prove who they are. The link and the
password together begin a sign-in that sets up an authenticator app (later a passkey)
before it gets a session (`pipeline.begin(..., via_link=True)`).

Only a hash of the token is stored; the link works for `LIFETIME`, once (one conditional
UPDATE), and a new link voids the previous ones. It passes the same hourly send caps as
codes and reset links. Neither the token nor the link is logged or audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from deskgate.accounts import alerts, audit, contact, languages, notify, permissions
from deskgate.accounts.models import AuditAction, User
from deskgate.delivery import caps, channels
from deskgate.signin import factors
from deskgate.signin.models import EnrolmentLink, SignInGuard

LIFETIME = timedelta(hours=24)
# The link's token rides in the query string: request logs drop query strings
# (deskgate.logfilters), and the page moves it into the session at once.
TOKEN_PARAM = "t"  # noqa: S105  # a query parameter's name, not a secret

CAPPED = {
    "user": "Too many messages were sent to this user in the last hour. Try again later.",
    "client": "Your company has reached its limit of messages per hour. Try again later.",
    "platform": "Deskgate is sending too many messages right now. Try again in a few minutes.",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refusal(user: User) -> str | None:
    """Why no set-up link can go to this user, or None."""
    if not user.is_active:
        return f"{user.label} is inactive."
    if not user.client.supports_mfa:
        return f"{user.client.mfa_unavailable_reason} Authenticator apps come with it."
    if not user.email:
        return (
            f"{user.label} has no Email to send a set-up link to. Fill in their Email, or set "
            "their MFA to SMS so they can prove a code and set up the app at sign-in."
        )
    if factors.has_strong_factor(user):
        return (
            f"{user.label} has an authenticator app already. To replace it, reset it first; "
            "they set up the new one at their next sign-in."
        )
    return None


@dataclass(frozen=True)
class Sent:
    destination: str  # masked
    hours: int


def send_link(user: User, *, by: audit.Actor) -> Sent:
    """Send `user` a new single-use set-up link to their Email (voiding the previous one).

    By whoever the permission table lets (`user.setup_link`: admins, managers for the levels
    below their own), or by the user
    themselves at sign-in after their password. Raises ValidationError with the reason
    when no link can go (no Email, an app set up already, 11.x, a send cap, the mail server),
    PermissionDenied for anyone else.
    """
    if by.user is None or by.user.pk != user.pk:
        permissions.check(by, permissions.Op.USER_SETUP_LINK, user.client_id, user.level)
    refusal = _refusal(user)
    if refusal is not None:
        raise ValidationError(refusal)
    permit = caps.admit(notify.recipient_of(user), "email", user.email)
    if isinstance(permit, caps.Refusal):
        alerts.send_capped(user, permit.value)
        raise ValidationError(CAPPED.get(permit.value, CAPPED["platform"]))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    hours = int(LIFETIME.total_seconds() // 3600)
    subject, text = _message(user, token, hours)
    # Sent before it is stored: a link that never left is no live link voiding the last one.
    try:
        channels.send_email(permit, subject, text)
    except channels.DeliveryError:
        raise ValidationError(
            gettext(
                "The mail server did not accept the message, so no link was sent. Try again in "
                "a moment."
            )
        ) from None
    masked = contact.mask_email(user.email)
    with transaction.atomic():
        # One user's links in turn: the voiding and the new row cannot interleave with a
        # parallel send, so exactly one link is live afterwards.
        SignInGuard.objects.locked_for(user)
        voided = EnrolmentLink.objects.filter(user=user, used_at=None, voided_at=None).update(
            voided_at=now
        )
        EnrolmentLink.objects.create(
            user=user, token_hash=_hash(token), created_at=now, expires_at=now + LIFETIME
        )
        audit.record(
            AuditAction.ENROLMENT_LINK_SENT,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Set-up link for a second factor sent to {masked} by {by.label}"
            + ("; the previous link no longer works" if voided else ""),
            destination=masked,
            voided=voided,
        )
    return Sent(masked, hours)


def _message(user: User, token: str, hours: int) -> tuple[str, str]:
    # The link is built from a fixed setting, never from a request's Host header.
    link = f"{settings.DESKGATE_BASE_URL}{reverse('signin:enrolment_link')}?{TOKEN_PARAM}={token}"
    company = user.client.name
    with languages.in_language_of(user):
        text = ngettext(
            "Hello %(name)s,\n\nTo set up an authenticator app for your Deskgate account "
            "%(username)s at %(company)s, open this link within %(hours)d hour and sign in with "
            "your password:\n\n%(link)s\n\nThe link works once. If you did not expect it, "
            "ignore this message and tell your admin.\n",
            "Hello %(name)s,\n\nTo set up an authenticator app for your Deskgate account "
            "%(username)s at %(company)s, open this link within %(hours)d hours and sign in "
            "with your password:\n\n%(link)s\n\nThe link works once. If you did not expect "
            "it, ignore this message and tell your admin.\n",
            hours,
        ) % {
            "name": user.full_name,
            "username": user.username,
            "company": company,
            "hours": hours,
            "link": link,
        }
        subject = gettext("Set up your Deskgate sign-in (%(company)s)") % {"company": company}
    return subject, text


def live_link(token: str) -> EnrolmentLink | None:
    """The link this token is for, if it is live: not used, not voided, not expired, its
    user active and still without a strong factor."""
    if not token or len(token) > 200:
        return None
    link = (
        EnrolmentLink.objects.select_related("user", "user__client")
        .filter(token_hash=_hash(token), used_at=None, voided_at=None)
        .first()
    )
    if link is None or link.expires_at <= timezone.now() or not link.user.is_active:
        return None
    if _refusal(link.user) is not None:
        return None
    return link


def use_link(link: EnrolmentLink, *, by: audit.Actor) -> bool:
    """Spend the link (its user's password was checked): of parallel requests with the same
    link, exactly one gets True (one conditional UPDATE)."""
    now = timezone.now()
    with transaction.atomic():
        spent = EnrolmentLink.objects.filter(
            pk=link.pk, used_at=None, voided_at=None, expires_at__gt=now
        ).update(used_at=now)
        if not spent:
            return False
        user = link.user
        audit.record(
            AuditAction.ENROLMENT_LINK_USED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} opened their set-up link and gave their password",
        )
    return True
