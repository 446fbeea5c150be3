"""Delivering a code: email through Django's email framework, SMS through a gateway.

`SmsGateway` is the small interface an SMS transport implements (Kannel's sendsms HTTP
interface first; SMPP or a provider's API can follow). Every transport has a timeout and
raises `DeliveryError` when the message was not accepted. Every send takes a `Permit` from
`deskgate.delivery.caps.admit`: the send caps and the SMS country allow-list hold for every
message, whoever sends it. Each thread keeps its connection to the mail server and to the
gateway open between messages (`deskgate.delivery.connections`): a code costs no handshake.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from django.core.mail import EmailMessage

from deskgate.conf import KannelConfig
from deskgate.delivery import connections
from deskgate.delivery.app_settings import app_settings
from deskgate.delivery.caps import Permit
from deskgate.delivery.models import OutboxMessage

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The message was not accepted by the server or gateway."""


class SmsGateway(Protocol):
    def send(self, to: str, text: str) -> None:
        """Hand one SMS to the gateway, or raise DeliveryError."""


class OutboxSmsGateway:
    """The development outbox: keeps the SMS for the outbox page."""

    def send(self, to: str, text: str) -> None:
        OutboxMessage.objects.create(channel="sms", to=to, body=text)


class KannelGateway:
    """Kannel's sendsms HTTP interface (smsbox): GET /cgi-bin/sendsms."""

    def __init__(self, config: KannelConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout

    def send(self, to: str, text: str) -> None:
        c = self.config
        query = urllib.parse.urlencode(
            {
                "username": c.user,
                "password": c.password,
                "from": c.sender,
                "to": to,
                "text": text,
                "charset": "UTF-8",
                "coding": "2" if any(ord(ch) > 127 for ch in text) else "0",
            }
        )
        path = f"/cgi-bin/sendsms?{query}"
        try:
            if _proxied("https" if c.use_https else "http", c.host):
                status, body = self._send_by_proxy(path)
            else:  # the usual case: this thread's keep-alive connection to smsbox
                status, body = connections.http_get(
                    c.host, c.port, path, https=c.use_https, timeout=self.timeout
                )
        except urllib.error.HTTPError as exc:
            # The URL carries the password and the text: never log it.
            raise DeliveryError(f"the SMS gateway refused the message (HTTP {exc.code})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"the SMS gateway did not answer ({reason})") from None
        except http.client.HTTPException as exc:  # it answered, but not in HTTP
            name = type(exc).__name__
            raise DeliveryError(f"the SMS gateway answered nonsense ({name})") from None
        # Kannel answers 202 "0: Accepted for delivery" (or 200 "Sent.") when it takes it.
        if status not in (200, 202):
            raise DeliveryError(f"the SMS gateway refused the message (HTTP {status})")
        log.info("sms accepted by gateway: %s", body.decode("utf-8", "replace").strip()[:80])

    def _send_by_proxy(self, path: str) -> tuple[int, bytes]:
        """Through the environment's HTTP proxy (urllib's), a new connection each time."""
        c = self.config
        url = f"{'https' if c.use_https else 'http'}://{c.host}:{c.port}{path}"
        with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310  # scheme fixed above
            return response.status, response.read(500)


def _proxied(scheme: str, host: str) -> bool:
    """Whether urllib would reach the host through a proxy from the environment."""
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def sms_gateway() -> SmsGateway:
    config = app_settings.SMS
    if config is None:
        return OutboxSmsGateway()
    return KannelGateway(config, timeout=app_settings.SMS_TIMEOUT)


def _check(permit: Permit, channel: str) -> str:
    # Only `caps.admit` makes a valid permit: no message leaves without passing the caps.
    if not permit.valid or permit.channel != channel:
        raise ValueError(f"a {channel} message needs a permit from deskgate.delivery.caps.admit")
    return permit.to


def send_email(permit: Permit, subject: str, text: str) -> None:
    """Send one email to the permit's address, or raise DeliveryError."""
    to = _check(permit, "email")
    try:
        connections.send_messages([EmailMessage(subject, text, None, [to])])
    except Exception as exc:  # smtplib, socket and TLS errors all mean "not sent"
        raise DeliveryError(
            f"the mail server did not accept the message ({type(exc).__name__})"
        ) from None


def send_emails(messages: list[tuple[Permit, str, str]]) -> None:
    """Send (permit, subject, text) messages over this thread's connection to the mail server."""
    built = [
        EmailMessage(subject, text, None, [_check(permit, "email")])
        for permit, subject, text in messages
    ]
    try:
        connections.send_messages(built)
    except Exception as exc:  # smtplib, socket and TLS errors all mean "not sent"
        reason = type(exc).__name__
        raise DeliveryError(f"the mail server did not accept the messages ({reason})") from None


def send_sms(permit: Permit, text: str) -> None:
    """Send one SMS to the permit's number, or raise DeliveryError."""
    sms_gateway().send(_check(permit, "sms"), text)
