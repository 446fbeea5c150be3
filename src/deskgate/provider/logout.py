"""Ending a person's sign-ins in the apps: tokens revoked at once, apps told by
OpenID Connect Back-Channel Logout 1.0.

`sessions_ended` is registered with `accounts.sessions` (ProviderConfig.ready) and runs
inside the transaction that ends the sessions: the tokens are revoked with it, and one
`LogoutDelivery` row is queued per app and session. After the commit a background thread
(`worker`) POSTs a signed logout token to each app's `backchannel_logout_uri`, tries a
failed delivery again after LOGOUT_RETRY_AFTER, gives up after the last, and audits that.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from deskgate.accounts import audit
from deskgate.accounts.models import AuditAction, User
from deskgate.delivery.worker import BackgroundWorker
from deskgate.provider import revoke
from deskgate.provider.models import AppProfile, Authorization, LogoutDelivery

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120  # seconds
LOGOUT_TIMEOUT = 5.0  # seconds for a whole POST, connection to answer
LOGOUT_RETRY_AFTER = [10, 60]  # seconds before the 2nd and 3rd (last) attempt
CLAIM_LEASE = timedelta(seconds=30)  # a row being sent; taken again if its process died


def sessions_ended(user: User, sids: Sequence[str], /, *, everywhere: bool) -> None:
    """Revoke the tokens those sessions led to (all of the user's, `everywhere`) and queue
    a logout token for every app that signed the user in through them.

    Each sign-in in an app ends once (`Authorization.ended_at`): an app told that a
    session ended is not told again by a later end (a reset both sets the password and
    ends every session; a deactivation follows a sign-out), and the row locks make two
    ends at once (a sign-out and a deactivation) tell it once between them.
    """
    now = timezone.now()
    with transaction.atomic():
        ending = Authorization.objects.filter(user=user, ended_at=None)
        if not everywhere:
            ending = ending.filter(sid__in=list(sids))
        rows = list(
            ending.select_for_update().values_list(
                "pk", "application_id", "sid", "token_family", "exchanged_at"
            )
        )
        Authorization.objects.filter(pk__in=[pk for pk, *_ in rows]).update(ended_at=now)
        if everywhere:
            revoke.everything_of(user)
        else:
            revoke.families(family for _, _, _, family, _ in rows)
        # An app whose code was never exchanged never had the sign-in: nothing to tell.
        pairs = {(app, sid) for _, app, sid, _, exchanged in rows if exchanged is not None}
        told = set(
            AppProfile.objects.filter(application_id__in={app for app, _ in pairs})
            .exclude(backchannel_logout_uri="")
            .values_list("application_id", flat=True)
        )
        deliveries = [
            LogoutDelivery(
                application_id=app, user=user, sid=sid, created_at=now, next_attempt_at=now
            )
            for app, sid in sorted(pairs)
            if app in told
        ]
        if deliveries:
            LogoutDelivery.objects.bulk_create(deliveries)
            transaction.on_commit(worker.kick)


def app_signed_out(application: Application, user: User, sid: str) -> None:
    """The app itself asked to end its sign-in `sid` (RP-initiated logout from a browser
    that no longer holds that Deskgate session): that sign-in's tokens are revoked. The
    app needs no telling, and the session's other apps are left alone: the session may
    still be live in another browser, and this request does not prove otherwise."""
    with transaction.atomic():
        ending = Authorization.objects.select_for_update().filter(
            application=application, user=user, sid=sid, ended_at=None
        )
        families = list(ending.values_list("token_family", flat=True))
        ending.update(ended_at=timezone.now())
        revoke.families(families)


def logout_token(delivery: LogoutDelivery) -> str:
    """The signed logout token (Back-Channel Logout 1.0, section 2.4) for one app."""
    # Parsed once per process (DOT's cache, the one its ID tokens are signed with).
    key = jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    now = int(time.time())
    claims = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "aud": delivery.application.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()),
        "sub": str(delivery.user.subject),
        "events": {EVENT: {}},
    }
    if delivery.sid:
        claims["sid"] = delivery.sid
    header = {"alg": "RS256", "typ": "logout+jwt", "kid": key.thumbprint()}
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
    token.make_signed_token(key)
    return str(token.serialize())


def deliver_due() -> float | None:
    """Send every delivery that is due; answer the seconds until the next one, or None."""
    while (delivery := _claim_next()) is not None:
        _send(delivery)
    upcoming = (
        LogoutDelivery.objects.filter(delivered_at=None, failed_at=None)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if upcoming is None:
        return None
    return max((upcoming - timezone.now()).total_seconds(), 0.05)


def _claim_next() -> LogoutDelivery | None:
    now = timezone.now()
    while True:
        candidate = (
            LogoutDelivery.objects.filter(
                delivered_at=None, failed_at=None, next_attempt_at__lte=now
            )
            .order_by("next_attempt_at", "pk")
            .first()
        )
        if candidate is None:
            return None
        claimed = LogoutDelivery.objects.filter(
            pk=candidate.pk, next_attempt_at=candidate.next_attempt_at, delivered_at=None
        ).update(next_attempt_at=now + CLAIM_LEASE, attempts=candidate.attempts + 1)
        if claimed:
            return (
                LogoutDelivery.objects.select_related("application__profile", "user__client")
                .filter(pk=candidate.pk)
                .first()
            )


def post_form(uri: str, form: dict[str, str], *, seconds: float) -> int:
    """POST a form and answer the HTTP status; the whole exchange ends at one deadline.

    A socket timeout alone bounds each read, so an app that trickles its answer a byte at
    a time would hold the worker (and every other app's logout behind it) for as long as
    it liked, and outlive the claim's lease (another process would send again). At the
    deadline a timer shuts the socket, and the read in progress fails.
    """
    parts = urlsplit(uri)
    host, port = parts.hostname or "", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        # The system's trust store (plus SSL_CERT_FILE): apps on the platform's own
        # network may carry certificates of the operator's CA.
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=seconds, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=seconds)
    body = urlencode(form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cache-Control": "no-store",
        "User-Agent": "Deskgate-Logout",
        "Connection": "close",
    }
    timer = threading.Timer(seconds, _shut, args=(connection,))
    timer.start()
    try:
        connection.request(
            "POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers
        )
        return connection.getresponse().status
    finally:
        timer.cancel()
        connection.close()


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        # The plain socket's shutdown, also under TLS: it wakes the blocked read.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _send(delivery: LogoutDelivery) -> None:
    uri = delivery.application.profile.backchannel_logout_uri
    error = ""
    started = time.monotonic()
    try:
        status = post_form(uri, {"logout_token": logout_token(delivery)}, seconds=LOGOUT_TIMEOUT)
        if status not in (200, 204):
            error = f"the app answered HTTP {status}"
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() - started >= LOGOUT_TIMEOUT or isinstance(exc, TimeoutError):
            error = f"the app did not answer within {LOGOUT_TIMEOUT:g} s"
        else:
            error = f"could not reach the app ({type(exc).__name__})"
    now = timezone.now()
    if not error:
        LogoutDelivery.objects.filter(pk=delivery.pk).update(delivered_at=now, last_error="")
        return
    if delivery.attempts <= len(LOGOUT_RETRY_AFTER):
        wait = LOGOUT_RETRY_AFTER[delivery.attempts - 1]
        LogoutDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now + timedelta(seconds=wait), last_error=error
        )
        return
    LogoutDelivery.objects.filter(pk=delivery.pk).update(failed_at=now, last_error=error)
    user = delivery.user
    audit.record(
        AuditAction.OIDC_LOGOUT_FAILED,
        client=user.client,
        by=audit.Actor(),
        subject=user,
        summary=f"{delivery.application.name} was not told that {user.label} signed out: "
        f"{error} after {delivery.attempts} tries",
        app=delivery.application.name,
        attempts=delivery.attempts,
    )
    log.warning("back-channel logout to app %s failed: %s", delivery.application.client_id, error)


worker = BackgroundWorker("deskgate-backchannel-logout", deliver_due)
