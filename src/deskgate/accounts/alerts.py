"""Alerts: a client's admins get one email, now and then, about what needs a look.

Three conditions, each noted where it happens (and where its audit event is recorded):

- a user locked (wrong codes or wrong passwords) for the `LOCKS_A_DAY`-th time or more
  within `LOCK_DAY` (`user_locked`, from the sign-in's lock points);
- a send cap (the user's, the client's or the platform's hourly limit of messages)
  refusing a code, a contact confirmation, an enrolment link or a reset link
  (`send_capped`); one alert per cap and clock hour;
- at least `SSO_REFUSALS` SSO sign-ins of the client refused within `SSO_PERIOD`
  (`sso_refused`); one alert per client and `WINDOW`.

Noting costs nothing on the normal sign-in path: a lock or a refusal already writes its
audit event; the check reads the trail only then (one count, on the trail's indexes), and
one INSERT is made only when a condition fires. A client that turned alerts off
(`Client.alert_emails`) gets no row at all.

Sending (`send_due`): at most one email per client per `WINDOW`, listing every alert
waiting, to each active admin in their own language. The first alert after a quiet window
goes out at once (the background worker, kicked when the alert commits); what follows
within the window waits for the next `deskgate send-alerts`, run from cron every few
minutes. Two senders (two nodes, or cron and a worker) never send one alert twice: the
window is taken with one conditional UPDATE of the client's row, and the alerts with
another. When the mail server takes no admin's email, the alerts wait again for the next
window. The email names users and counts only: never a code, an address or a number.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from deskgate.accounts import audit, notify
from deskgate.accounts.models import (
    Alert,
    AlertKind,
    AuditAction,
    AuditEvent,
    Client,
    Level,
    User,
)
from deskgate.delivery import caps
from deskgate.delivery.worker import BackgroundWorker

# The thresholds (documented in the README, "Alerts").
LOCKS_A_DAY = 2  # a user's second lock (or later) within LOCK_DAY alerts
LOCK_DAY = timedelta(hours=24)
SSO_REFUSALS = 10  # this many refused SSO sign-ins of one client...
SSO_PERIOD = timedelta(minutes=5)  # ...within this period alert
WINDOW = timedelta(minutes=15)  # at most one alert email per client per window
KEEP_HANDLED = timedelta(days=2)  # handled rows kept this long (their keys dedupe an hour)

LOCK_ACTIONS = (AuditAction.USER_LOCKED, AuditAction.USER_PASSWORD_LOCKED)
SYSTEM = audit.Actor()


# --- noting a condition ---------------------------------------------------------------


def user_locked(user: User, *, now: datetime | None = None) -> None:
    """After a lock's audit event: alert when it is the user's second (or later) that day.
    Call it in the lock's transaction; `user.client` is loaded already at every lock."""
    client = user.client
    if not client.alert_emails:
        return
    now = now or timezone.now()
    locks = AuditEvent.objects.filter(
        subject=user, action__in=LOCK_ACTIONS, at__gt=now - LOCK_DAY
    ).count()
    if locks >= LOCKS_A_DAY:
        _add(Alert(client=client, kind=AlertKind.REPEAT_LOCK, at=now, subject=user, count=locks))


def send_capped(user: User, scope: str, *, now: datetime | None = None) -> None:
    """A send cap (`scope`: user, client or platform) held back a message for `user`."""
    client = user.client
    if not client.alert_emails:
        return
    now = now or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    whose = f"u{user.pk}" if scope == "user" else f"c{client.pk}"
    _add(
        Alert(
            client=client,
            kind=AlertKind.SEND_CAP,
            at=now,
            subject=user if scope == "user" else None,
            scope=scope,
            key=f"cap:{scope}:{whose}:{hour:%Y%m%d%H}",
        )
    )


def sso_refused(client: Client, *, now: datetime | None = None) -> None:
    """After an SSO refusal's audit event: alert when the client has had `SSO_REFUSALS`
    of them within `SSO_PERIOD`."""
    if not client.alert_emails:
        return
    now = now or timezone.now()
    refused = AuditEvent.objects.filter(
        client=client, action=AuditAction.SIGNIN_SSO_REFUSED, at__gt=now - SSO_PERIOD
    ).count()
    if refused >= SSO_REFUSALS:
        window = _window_start(now)
        _add(
            Alert(
                client=client,
                kind=AlertKind.SSO_REFUSALS,
                at=now,
                count=refused,
                key=f"sso:c{client.pk}:{window:%Y%m%d%H%M}",
            )
        )


def _window_start(now: datetime) -> datetime:
    minutes = int(WINDOW.total_seconds() // 60)
    return now.replace(minute=now.minute - now.minute % minutes, second=0, microsecond=0)


def _add(alert: Alert) -> None:
    # One INSERT; a key already taken (the same cap this hour) makes it a no-op.
    Alert.objects.bulk_create([alert], ignore_conflicts=True)
    transaction.on_commit(worker.kick)


# --- sending --------------------------------------------------------------------------


def send_due(*, now: datetime | None = None) -> dict[str, int]:
    """Email every client whose alerts wait and whose window is open; answer, per client
    emailed, how many alerts its email listed. The command, the worker and the tests
    call it."""
    now = now or timezone.now()
    sent: dict[str, int] = {}
    waiting = Alert.objects.filter(handled_at=None)
    for client_id in sorted(set(waiting.values_list("client_id", flat=True))):
        name, count = _send_for(client_id, now)
        if count:
            sent[name] = count
    Alert.objects.filter(handled_at__lt=now - KEEP_HANDLED).delete()
    return sent


def _drain() -> float | None:
    # Then the thread stops: alerts waiting for a window to end are for the next kick or
    # `deskgate send-alerts` (a thread idling 15 minutes per process would buy little).
    send_due()
    return None


worker = BackgroundWorker("deskgate-alerts", _drain)


def _send_for(client_id: int, now: datetime) -> tuple[str, int]:
    """Send the client's waiting alerts if its window is open; answer the client's name
    and how many alerts went."""
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return "", 0
    waiting = Alert.objects.filter(client_id=client_id, handled_at=None)
    if not client.alert_emails:
        waiting.update(handled_at=now)  # turned off since: dropped, never sent
        return client.name, 0
    # The claim of the window: of two senders, one UPDATE matches; the other sends nothing.
    opened = (
        Client.objects.filter(pk=client_id)
        .filter(Q(alerts_mailed_at=None) | Q(alerts_mailed_at__lte=now - WINDOW))
        .update(alerts_mailed_at=now)
    )
    if not opened:
        return client.name, 0
    batch = uuid.uuid4()
    if not waiting.update(handled_at=now, batch=batch):
        # Taken by a sender whose window just closed: give this one back unused.
        Client.objects.filter(pk=client_id, alerts_mailed_at=now).update(
            alerts_mailed_at=client.alerts_mailed_at
        )
        return client.name, 0
    alerts = list(Alert.objects.filter(batch=batch).select_related("subject").order_by("at"))
    admins = list(
        User.objects.select_related("client").filter(
            client_id=client_id, level=Level.ADMIN, is_active=True
        )
    )
    notices = [
        n
        for admin in admins
        if (
            n := notify.email_notice(
                admin,
                _text(client, alerts),
                by=SYSTEM,
                subject=_subject(client),
                purpose=caps.Purpose.ALERT,
                about="of alerts at their company",
            )
        )
        is not None
    ]
    # Sent now, not after a commit: when no admin's email was taken (the mail server is
    # down), the alerts wait again, for the next window (each failure is audited).
    delivered = notify.deliver_now(notices)
    if notices and not delivered:
        Alert.objects.filter(batch=batch).update(handled_at=None, batch=None)
        return client.name, 0
    audit.record(
        AuditAction.ALERTS_MAILED,
        client=client,
        by=SYSTEM,
        summary=f"{len(alerts)} alerts emailed to {delivered} admins",
        alerts=len(alerts),
        admins=delivered,
        kinds=sorted({a.kind for a in alerts}),
    )
    return client.name, len(alerts)


def _subject(client: Client) -> Callable[[], str]:
    return lambda: gettext("Deskgate alerts for %(company)s") % {"company": client.name}


def _who(alert: Alert) -> str:
    return alert.subject.label if alert.subject is not None else gettext("a deleted user")


def _text(client: Client, alerts: list[Alert]) -> Callable[[], str]:
    """The email's text, made in each admin's language when it is called."""

    def text() -> str:
        lines: list[str] = []
        locks: dict[str, int] = defaultdict(int)
        for a in alerts:
            if a.kind == AlertKind.REPEAT_LOCK:
                locks[_who(a)] = max(locks[_who(a)], a.count)
        for who, count in sorted(locks.items()):
            lines.append(
                ngettext(
                    "%(user)s was locked %(count)d time within 24 hours.",
                    "%(user)s was locked %(count)d times within 24 hours.",
                    count,
                )
                % {"user": who, "count": count}
            )
        for a in alerts:
            if a.kind != AlertKind.SEND_CAP:
                continue
            hour = f"{a.at:%H}:00"
            if a.scope == "user":
                line = gettext(
                    "The hourly limit of messages to %(user)s was reached (hour from %(hour)s "
                    "UTC): codes and links to them were held back."
                ) % {"user": _who(a), "hour": hour}
            elif a.scope == "client":
                line = gettext(
                    "Your company's hourly limit of messages was reached (hour from %(hour)s "
                    "UTC): codes and links were held back."
                ) % {"hour": hour}
            else:
                line = gettext(
                    "Deskgate's hourly limit of messages for all companies was reached (hour "
                    "from %(hour)s UTC): codes and links to your users were held back."
                ) % {"hour": hour}
            lines.append(line)
        for a in alerts:
            if a.kind == AlertKind.SSO_REFUSALS:
                lines.append(
                    gettext(
                        "SSO refused %(count)d sign-ins within %(minutes)d minutes (up to "
                        "%(time)s UTC). Check Settings > SSO and the audit trail."
                    )
                    % {
                        "count": a.count,
                        "minutes": int(SSO_PERIOD.total_seconds() // 60),
                        "time": f"{a.at:%Y-%m-%d %H:%M}",
                    }
                )
        intro = gettext("Deskgate noticed the following at %(company)s:") % {"company": client.name}
        outro = gettext(
            "The audit trail has the details. To stop these emails, untick “Email admins "
            "about alerts” under Settings."
        )
        return "\n\n".join([intro, "\n".join(f"- {line}" for line in lines), outro]) + "\n"

    return text
