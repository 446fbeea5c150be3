"""The reset mail worker: after the response, decide who gets a reset link and send it.

Two steps, each over rows that the request committed (`ResetRequest`) or that this module
queued (`ResetMail`), each row claimed with one conditional UPDATE, so that any number of
processes can drain the queue together and a row left by a process that died is taken
again once its claim runs out:

1. resolve a request: which accounts have the address, company by company; an address
   shared inside one company gets nothing there (audited on that company's trail), and
   each account's mail is bounded by `DESKGATE_RESET["per_account_hour"]` -- unless its
   last link was used, expired or never arrived, so strangers cannot use up the owner's
   reset;
2. send a queued mail through the delivery layer; a failure is audited and tried again
   (`mail_attempts`, `retry_after`), never raised to anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext, ngettext

from deskgate.accounts import alerts, audit, contact, languages, notify
from deskgate.accounts.models import AuditAction, User
from deskgate.delivery import caps as send_caps
from deskgate.delivery import channels
from deskgate.delivery.worker import BackgroundWorker
from deskgate.signin import caps, reset
from deskgate.signin.app_settings import app_settings
from deskgate.signin.models import ResetMail, ResetMailState, ResetRequest, SignInGuard

KEEP_LINK_RECORDS = timedelta(days=1)
M = TypeVar("M", bound=Model)


def deliver_pending() -> float | None:
    """Resolve every queued request and send every due mail.

    Answers the seconds until more work is due (a retry, or a row another process holds),
    or None when the queue is empty. The worker thread calls it; so can an operator's
    command or a test.
    """
    while (request := _claim(ResetRequest.objects.all())) is not None:
        _resolve(request)
    while (mail := _claim(_queued(timezone.now()))) is not None:
        _send(mail)
    now = timezone.now()
    ResetMail.objects.exclude(state=ResetMailState.QUEUED).filter(
        created_at__lt=now - KEEP_LINK_RECORDS
    ).delete()
    return _seconds_to_next(now)


worker = BackgroundWorker("deskgate-reset-mail", deliver_pending)


# --- claiming -------------------------------------------------------------------------


def _lease() -> timedelta:
    # Longer than one SMTP conversation can take (each socket operation has the timeout).
    return timedelta(seconds=120 + 4 * float(settings.EMAIL_TIMEOUT or 30))


def _queued(now: datetime) -> QuerySet[ResetMail]:
    return ResetMail.objects.filter(state=ResetMailState.QUEUED, due_at__lte=now)


def _claim(rows: QuerySet[M]) -> M | None:
    """One row of `rows` that nobody holds, now held by us until the lease ends."""
    now = timezone.now()
    free = rows.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    for pk in free.order_by("pk").values_list("pk", flat=True)[:20]:
        # The conditional UPDATE is the claim: of several processes, one gets the row.
        if free.filter(pk=pk).update(claimed_until=now + _lease()):
            return rows.model._default_manager.get(pk=pk)
    return None


def _seconds_to_next(now: datetime) -> float | None:
    requests = ResetRequest.objects.values_list("claimed_until", flat=True)[:100]
    times = [claimed or now for claimed in requests]
    for due, claimed in ResetMail.objects.filter(state=ResetMailState.QUEUED).values_list(
        "due_at", "claimed_until"
    )[:100]:
        times.append(max(due, claimed) if claimed else due)
    if not times:
        return None
    return max((min(times) - now).total_seconds(), 0.0)


# --- 1. resolving a request -----------------------------------------------------------


def _resolve(request: ResetRequest) -> None:
    by = audit.Actor(ip=request.ip, via=audit.Via.WEB)
    key = contact.email_key(request.email)
    matches = [
        user
        for user in User.objects.select_related("client")
        .filter(email__iexact=request.email, is_active=True)
        .order_by("pk")
        if contact.email_key(user.email) == key
    ]
    per_client: dict[int, list[User]] = {}
    for user in matches:
        per_client.setdefault(user.client_id, []).append(user)
    now = timezone.now()
    with transaction.atomic():
        for accounts in per_client.values():
            client = accounts[0].client
            if not client.password_reset_enabled:
                continue
            masked = contact.mask_email(accounts[0].email)
            if len(accounts) > 1:
                # Refused in this company only; another company's account is no reason.
                audit.record(
                    AuditAction.PASSWORD_RESET_REFUSED,
                    client=client,
                    by=by,
                    summary=f"Password reset refused: {len(accounts)} accounts of this company "
                    f"share the address {masked}",
                    destination=masked,
                    reason="shared_address",
                )
                continue
            if reset.may_reset(accounts[0]):
                _queue_link(accounts[0], now, ip=request.ip)
        request.delete()


def _queue_link(user: User, now: datetime, *, ip: str | None) -> None:
    """Queue a link for `user` unless the hour's allowance is spent while a link sent
    to them still works (then that link serves the owner: no more mail)."""
    # One account's decisions in turn, across processes: the live-link check and the
    # insert below cannot interleave with a parallel request's.
    SignInGuard.objects.locked_for(user)
    expired = now - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    live = (
        ResetMail.objects.filter(user=user, used_at=None)
        .filter(Q(state=ResetMailState.QUEUED) | Q(state=ResetMailState.SENT, sent_at__gt=expired))
        .exists()
    )
    allowance = app_settings.RESET.per_account_hour
    if not caps.take(f"reset-user:{user.pk}", now, allowance) and live:
        return
    ResetMail.objects.create(user=user, to=user.email, ip=ip, created_at=now, due_at=now)


# --- 2. sending -----------------------------------------------------------------------


def _send(mail: ResetMail) -> None:
    user = User.objects.select_related("client").filter(pk=mail.user_id, is_active=True).first()
    if user is None or not reset.may_reset(user) or user.email != mail.to:
        # Deactivated, reset turned off or its Email changed since: the link is not owed.
        ResetMail.objects.filter(pk=mail.pk).update(
            state=ResetMailState.DROPPED, claimed_until=None
        )
        return
    by = audit.Actor(ip=mail.ip, via=audit.Via.WEB)
    masked = contact.mask_email(user.email)
    # A reset link is a message like a code: the same hourly caps.
    permit = send_caps.admit(notify.recipient_of(user), "email", user.email)
    if isinstance(permit, send_caps.Refusal):
        with transaction.atomic():
            ResetMail.objects.filter(pk=mail.pk).update(
                state=ResetMailState.DROPPED, claimed_until=None
            )
            audit.record(
                AuditAction.PASSWORD_RESET_CAPPED,
                client=user.client,
                by=by,
                subject=user,
                summary=f"Password reset link not sent to {masked}: hourly limit "
                f"({permit.value}) reached",
                scope=permit.value,
            )
            alerts.send_capped(user, permit.value)
        return
    subject, text = _message(user)
    try:
        channels.send_email(permit, subject, text)
    except channels.DeliveryError as exc:
        _failed(mail, user, by, masked, str(exc))
        return
    with transaction.atomic():
        ResetMail.objects.filter(pk=mail.pk).update(
            state=ResetMailState.SENT,
            sent_at=timezone.now(),
            attempts=mail.attempts + 1,
            claimed_until=None,
        )
        audit.record(
            AuditAction.PASSWORD_RESET_REQUESTED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Password reset link sent to {masked}",
            destination=masked,
        )


def _message(user: User) -> tuple[str, str]:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # The link is built from a fixed setting, never from a request's Host header.
    link = settings.DESKGATE_BASE_URL + reverse("signin:reset_confirm", args=[uid, token])
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    company = user.client.name
    with languages.in_language_of(user):
        text = ngettext(
            "Hello %(name)s,\n\nSomeone asked to reset the password of your Deskgate account "
            "%(username)s at %(company)s. To choose a new password, open this link within "
            "%(minutes)d minute:\n\n%(link)s\n\nIf it was not you, ignore this message; your "
            "password stays as it is.\n",
            "Hello %(name)s,\n\nSomeone asked to reset the password of your Deskgate account "
            "%(username)s at %(company)s. To choose a new password, open this link within "
            "%(minutes)d minutes:\n\n%(link)s\n\nIf it was not you, ignore this message; "
            "your password stays as it is.\n",
            minutes,
        ) % {
            "name": user.full_name,
            "username": user.username,
            "company": company,
            "minutes": minutes,
            "link": link,
        }
        subject = gettext("Reset your Deskgate password (%(company)s)") % {"company": company}
    return subject, text


def _failed(mail: ResetMail, user: User, by: audit.Actor, masked: str, error: str) -> None:
    attempts = mail.attempts + 1
    retry = app_settings.RESET.retry
    final = attempts >= retry.after
    wait = retry.seconds(attempts - 1)
    then = "no further attempt" if final else f"trying again in {wait} seconds"
    with transaction.atomic():
        ResetMail.objects.filter(pk=mail.pk).update(
            state=ResetMailState.FAILED if final else ResetMailState.QUEUED,
            attempts=attempts,
            due_at=timezone.now() + timedelta(seconds=wait),
            claimed_until=None,
        )
        audit.record(
            AuditAction.PASSWORD_RESET_MAIL_FAILED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Password reset link not delivered to {masked}: {then}",
            destination=masked,
            error=error,
            final=final,
        )
