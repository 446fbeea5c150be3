"""Invitations by email instead of temporary passwords (issue 16).

An admin (or a program, an import, a directory) creating a user with an Email can send
them an invitation: a single-use link, valid for the client's `invitation_hours` (default
72), where the person sets their own password. The accept page then begins an ordinary
sign-in, so a user with Email or SMS MFA proves their destination with a code (R3's
destination is known to work before the first shift) and gets a session only after it.

Modelled on the enrolment link (`deskgate.signin.enrolment`): only a hash of the token is
stored; it works once (one conditional UPDATE), until it expires; a new invitation voids
the live ones, and so does Revoke. It passes the hourly send caps like every message.
Neither the token nor the link is logged or audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from deskgate.accounts import audit, contact, languages, notify, permissions, rules
from deskgate.accounts.actions.passwords import check_password, set_password
from deskgate.accounts.actions.users import note_email_proven
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, Invitation, User
from deskgate.accounts.permissions import Op
from deskgate.delivery import caps, channels

# The token rides in the query string: request logs drop query strings
# (deskgate.logfilters), and the page moves it into the session at once.
TOKEN_PARAM = "t"  # noqa: S105  # a query parameter's name, not a secret
TOKEN_MAX = 200
HOURS_RANGE = (1, 720)
ADMIT_CHUNK = 100  # send-cap admissions per commit in `invite_many`


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def require_may_resend(by: Actor, user: User) -> None:
    """Who may resend `user`'s invitation: the one check, for every door.

    The help-desk permission table's row (`permissions`, README "Who may do what"): admins
    for every user of their client, managers for levels below their own.
    """
    permissions.check(by, Op.INVITATION_RESEND, user.client_id, user.level)


def refusal(user: User) -> str | None:
    """Why no invitation can go to `user`, or None."""
    if not user.is_active:
        return gettext("%(user)s is inactive.") % {"user": user.label}
    if not user.email:
        return gettext(
            "%(user)s has no Email to send an invitation to. Fill in their Email, or give "
            "them a temporary password."
        ) % {"user": user.label}
    if rules.sso_mandatory(user.client):
        return gettext(
            "%(user)s signs in through your company's SSO and needs no password or invitation."
        ) % {"user": user.label}
    if user.has_usable_password() and not user.must_change_password:
        return gettext("%(user)s has chosen their own password already and signs in with it.") % {
            "user": user.label
        }
    return None


@dataclass(frozen=True)
class Sent:
    destination: str  # masked
    hours: int
    expires_at: datetime


def invite(user: User, *, by: Actor) -> Sent:
    """Send `user` an invitation to their Email: a link where they set their own password.

    By those who may manage the user (R10). A live invitation sent before no longer works.
    Raises ValidationError with the reason when none can go (no Email, inactive, SSO only,
    a password of their own already, a send cap, the mail server), PermissionDenied for
    anyone else.
    """
    require_may_resend(by, user)
    return _send(user, by=by, resent=False)


def resend_invitation(user: User, *, by: Actor) -> Sent:
    """Send `user` a new invitation (the user page's Resend); the earlier one stops
    working. Rights: `require_may_resend`."""
    require_may_resend(by, user)
    return _send(user, by=by, resent=True)


def _capped(why: caps.Refusal) -> str:
    if why == caps.Refusal.USER:
        return gettext(
            "Too many messages were sent to this user in the last hour. Try again later."
        )
    if why == caps.Refusal.CLIENT:
        return gettext("Your company has reached its limit of messages per hour. Try again later.")
    return gettext("Deskgate is sending too many messages right now. Try again in a few minutes.")


def _send(user: User, *, by: Actor, resent: bool) -> Sent:
    why = refusal(user)
    if why is not None:
        raise ValidationError(why)
    permit = caps.admit(notify.recipient_of(user), "email", user.email)
    if isinstance(permit, caps.Refusal):
        raise ValidationError(_capped(permit))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    hours = user.client.invitation_hours
    expires_at = now + timedelta(hours=hours)
    subject, text = _message(user, token, hours)
    # Sent before it is stored: a link that never left is no live link voiding the last one.
    try:
        channels.send_email(permit, subject, text)
    except channels.DeliveryError:
        raise ValidationError(
            gettext(
                "The mail server did not accept the message, so no invitation was sent. Try "
                "again in a moment."
            )
        ) from None
    masked = contact.mask_email(user.email)
    with transaction.atomic():
        # One user's invitations in turn: voiding and the new row cannot interleave with a
        # parallel send, so exactly one invitation is live afterwards.
        User.objects.select_for_update().filter(pk=user.pk).first()
        voided = Invitation.objects.filter(user=user, accepted_at=None, voided_at=None).update(
            voided_at=now
        )
        Invitation.objects.create(
            user=user,
            token_hash=_hash(token),
            email=user.email,
            created_at=now,
            expires_at=expires_at,
        )
        audit.record(
            AuditAction.USER_INVITED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Invitation {'resent' if resent else 'sent'} to {masked} by {by.label}, "
            f"valid {hours} h" + ("; the previous one no longer works" if voided else ""),
            destination=masked,
            hours=hours,
            resent=resent,
            voided=voided,
        )
    return Sent(masked, hours, expires_at)


@dataclass
class Batch:
    """What `invite_many` did: how many went, and who got none and why."""

    sent: int = 0
    refused: list[tuple[User, str]] = field(default_factory=list)


def invite_many(users: list[User], *, by: Actor) -> Batch:
    """Invite many users of one client at once (a CSV import's new users): each checked and
    capped as `invite` does, the emails sent over one connection, the rows and events saved
    in a few statements. A user who cannot be invited is listed with the reason; nothing
    is raised for them."""
    batch = Batch()
    if not users:
        return batch
    permissions.check(by, Op.INVITATION_RESEND, users[0].client_id, *{u.level for u in users})
    ready: list[tuple[User, caps.Permit, str, str, str]] = []
    # One commit per ADMIT_CHUNK admissions (each its own savepoint): thousands of commits
    # cost more than the counting does, and a longer transaction would hold the client's
    # and the platform's counter rows from every sign-in code being sent meanwhile.
    for start in range(0, len(users), ADMIT_CHUNK):
        with transaction.atomic():
            for user in users[start : start + ADMIT_CHUNK]:
                why = refusal(user)
                if why is not None:
                    batch.refused.append((user, why))
                    continue
                permit = caps.admit(notify.recipient_of(user), "email", user.email)
                if isinstance(permit, caps.Refusal):
                    batch.refused.append((user, _capped(permit)))
                    continue
                token = secrets.token_urlsafe(32)
                subject, text = _message(user, token, user.client.invitation_hours)
                ready.append((user, permit, token, subject, text))
    if not ready:
        return batch
    try:
        channels.send_emails([(permit, subject, text) for _u, permit, _t, subject, text in ready])
    except channels.DeliveryError:
        failed = gettext("The mail server did not accept the message, so no invitation was sent.")
        batch.refused += [(user, failed) for user, *_rest in ready]
        return batch
    now = timezone.now()
    with transaction.atomic():
        invited = [user for user, *_rest in ready]
        Invitation.objects.filter(user__in=invited, accepted_at=None, voided_at=None).update(
            voided_at=now
        )
        rows, events = [], []
        for user, _permit, token, _subject, _text in ready:
            hours = user.client.invitation_hours
            rows.append(
                Invitation(
                    user=user,
                    token_hash=_hash(token),
                    email=user.email,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                )
            )
            masked = contact.mask_email(user.email)
            events.append(
                audit.build(
                    AuditAction.USER_INVITED,
                    client=user.client,
                    by=by,
                    subject=user,
                    summary=f"Invitation sent to {masked} by {by.label}, valid {hours} h",
                    destination=masked,
                    hours=hours,
                    resent=False,
                    voided=0,
                )
            )
        Invitation.objects.bulk_create(rows, batch_size=500)
        AuditEvent.objects.bulk_create(events, batch_size=500)
    batch.sent = len(ready)
    return batch


def _message(user: User, token: str, hours: int) -> tuple[str, str]:
    # The link is built from a fixed setting, never from a request's Host header.
    link = f"{settings.DESKGATE_BASE_URL}{reverse('signin:invitation')}?{TOKEN_PARAM}={token}"
    company = user.client.name
    with languages.in_language_of(user):
        text = ngettext(
            "Hello %(name)s,\n\n%(company)s invites you to Deskgate. Your user name is "
            "%(username)s. Open this link within %(hour)d hour to choose your password:\n\n"
            "%(link)s\n\nThe link works once. If you did not expect this message, ignore it.\n",
            "Hello %(name)s,\n\n%(company)s invites you to Deskgate. Your user name is "
            "%(username)s. Open this link within %(hour)d hours to choose your password:\n\n"
            "%(link)s\n\nThe link works once. If you did not expect this message, ignore it.\n",
            hours,
        ) % {
            "name": user.full_name,
            "username": user.username,
            "company": company,
            "hour": hours,
            "link": link,
        }
        subject = gettext("Your invitation to Deskgate (%(company)s)") % {"company": company}
    return subject, text


def revoke_invitation(user: User, *, by: Actor) -> int:
    """Void `user`'s live invitation (the user page's Revoke); answer how many were live."""
    permissions.check(by, Op.INVITATION_REVOKE, user.client_id, user.level)
    now = timezone.now()
    with transaction.atomic():
        voided = Invitation.objects.filter(
            user=user, accepted_at=None, voided_at=None, expires_at__gt=now
        ).update(voided_at=now)
        if voided:
            audit.record(
                AuditAction.INVITATION_REVOKED,
                client=user.client,
                by=by,
                subject=user,
                summary=f"Invitation of {user.label} revoked by {by.label}",
            )
    return voided


class LinkState(StrEnum):
    """What an opened invitation link is; an unknown token reads as EXPIRED."""

    LIVE = "live"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


def look_up(token: str | None) -> tuple[Invitation | None, LinkState]:
    """The invitation a token is for, and its state; the invitation only when LIVE.

    A token that matches nothing answers EXPIRED, as an expired one does: the page tells
    a guesser nothing. An inactive user's, one whose company now signs in through SSO only,
    or one sent to an Email the user no longer has, answers REVOKED (the admin took the way
    in away).
    """
    if not token or len(token) > TOKEN_MAX:
        return None, LinkState.EXPIRED
    found = (
        Invitation.objects.select_related("user", "user__client")
        .filter(token_hash=_hash(token))
        .first()
    )
    if found is None:
        return None, LinkState.EXPIRED
    if found.accepted_at is not None:
        return None, LinkState.USED
    if found.voided_at is not None:
        return None, LinkState.REVOKED
    if found.expires_at <= timezone.now():
        return None, LinkState.EXPIRED
    if not _still_meant(found):
        return None, LinkState.REVOKED
    return found, LinkState.LIVE


def _still_meant(invitation: Invitation) -> bool:
    """The invitation still fits its user: active, not SSO-only, and the Email it went to is
    still theirs (an admin who corrects a mistyped address takes the old link away)."""
    user = invitation.user
    if not user.is_active or rules.sso_mandatory(user.client):
        return False
    return user.email.casefold() == invitation.email.casefold()


def accept_invitation(invitation: Invitation, password: str, *, by: Actor) -> bool:
    """The person sets their own password through a live invitation.

    Raises ValidationError (keyed `password`) when the password rules refuse it, the link
    untouched. Of parallel requests with the same link, exactly one spends it (one
    conditional UPDATE) and answers True; the others answer False and change nothing.
    Accepting proves the Email the invitation went to (which `_still_meant` holds is still
    the user's).
    """
    user = invitation.user
    check_password(user, password)
    now = timezone.now()
    with transaction.atomic():
        spent = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, voided_at=None, expires_at__gt=now
        ).update(accepted_at=now)
        if not spent:
            return False
        user = User.objects.select_for_update().select_related("client").get(pk=user.pk)
        invitation.user = user
        if not _still_meant(invitation):
            transaction.set_rollback(True)
            return False
        set_password(user, password, by=by)
        note_email_proven(user, user.email)  # the link reached it
        audit.record(
            AuditAction.INVITATION_ACCEPTED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} accepted their invitation and chose a password",
        )
    return True


def latest_for(user: User) -> Invitation | None:
    """The user's most recent invitation (for the user page), if any."""
    return Invitation.objects.filter(user=user).order_by("-created_at", "-id").first()


def set_invitation_hours(client: Client, hours: int, *, by: Actor) -> Client:
    """Invitations of `client` work `hours` hours (1 to 720); its admins and the operator."""
    permissions.check(by, Op.CLIENT_SETTINGS, client.pk)
    low, high = HOURS_RANGE
    if not low <= hours <= high:
        raise ValidationError(
            {
                "invitation_hours": [
                    gettext("Enter a number of hours from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                ]
            }
        )
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.invitation_hours != hours:
            before = client.invitation_hours
            client.invitation_hours = hours
            client.save(update_fields=["invitation_hours"])
            audit.record(
                AuditAction.CLIENT_SETTINGS_CHANGED,
                client=client,
                by=by,
                summary=f"Invitations work {hours} h (was {before})",
                invitation_hours=hours,
            )
    return client


def set_invite_directory_users(client: Client, enabled: bool, *, by: Actor) -> Client:
    """Whether users a directory creates (SCIM) with an Email get an invitation."""
    permissions.check(by, Op.CLIENT_SETTINGS, client.pk)
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.invite_directory_users != enabled:
            client.invite_directory_users = enabled
            client.save(update_fields=["invite_directory_users"])
            audit.record(
                AuditAction.CLIENT_SETTINGS_CHANGED,
                client=client,
                by=by,
                summary="Users a directory creates "
                + ("get an invitation" if enabled else "get no invitation"),
                invite_directory_users=enabled,
            )
    return client
