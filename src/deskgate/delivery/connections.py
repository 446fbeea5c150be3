"""Connections kept open per thread: one to the mail server, one to the SMS gateway.

A code sent over a fresh connection pays for the TCP (and in production the TLS) handshake,
the greeting, EHLO and the login, on both sides; over a kept connection it is MAIL, RCPT and
DATA only. Each thread keeps its own (`threading.local`): a connection is never shared
between threads, so two requests never interleave their commands on one socket.

A kept connection is given up, and a new one opened, when
- it has been idle longer than IDLE_LIMIT (servers drop idle clients: Postfix after 300 s,
  others sooner), or the server has already closed it or spoken unasked (its "421 timeout"):
  the socket is readable while no command is waiting for an answer;
- the settings it was made from changed (EMAIL_HOST, ..., EMAIL_TIMEOUT);
- a send on it failed in any way (its state is then unknown).

Retrying: a message whose send failed on a kept connection is sent again, once, on a new
connection only when the server cannot have taken it: the failure is a disconnect (or the
server's "421 closing") and no MAIL FROM of this attempt was accepted. A failure after an
accepted MAIL FROM (RCPT, DATA, or no answer to the end of the data) is never retried: the
server may have the message, and a second code must not follow it. A reply that did not
come within EMAIL_TIMEOUT is not retried either, so one send waits at most that long for
an answer from a kept connection before it opens a new one.

Only Django's SMTP backend keeps a connection; any other backend (the development outbox,
the tests' locmem) is made and used per send, as before.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import select
import smtplib
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

IDLE_LIMIT = 30.0  # seconds a kept connection may sit unused before it is replaced


@dataclass
class _MailFrom:
    """Whether the server accepted a MAIL FROM during the current attempt."""

    accepted: bool = False


@dataclass
class _KeptMail:
    key: tuple[object, ...]  # the settings the backend was made from
    backend: SmtpBackend
    pid: int
    last_used: float = 0.0
    mail_from: _MailFrom = field(default_factory=_MailFrom)


@dataclass
class _KeptHttp:
    key: tuple[object, ...]
    connection: http.client.HTTPConnection
    pid: int
    last_used: float = 0.0


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.mail: _KeptMail | None = None
        self.http: _KeptHttp | None = None


_kept = _PerThread()


def _readable(sock: socket.socket | None) -> bool:
    """True when the idle socket has something to read: the server closed it or spoke."""
    if sock is None:
        return True
    pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
    if pending is not None and pending():
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed meanwhile
        return True


# -- email ---------------------------------------------------------------------------------


def _mail_key() -> tuple[object, ...]:
    s = settings
    return (
        s.EMAIL_BACKEND,
        s.EMAIL_HOST,
        s.EMAIL_PORT,
        s.EMAIL_HOST_USER,
        s.EMAIL_HOST_PASSWORD,
        s.EMAIL_USE_TLS,
        s.EMAIL_USE_SSL,
        s.EMAIL_TIMEOUT,
        s.EMAIL_SSL_CERTFILE,
        s.EMAIL_SSL_KEYFILE,
    )


def _drop_mail(backend: SmtpBackend) -> None:
    """Close the backend's socket without a QUIT (no waiting on a server that went away)."""
    for name in ("connection", "_partial_connection"):  # the second is Django 5.2's
        client = getattr(backend, name, None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            setattr(backend, name, None)


def _watch_mail_from(client: smtplib.SMTP, seen: _MailFrom) -> None:
    """Note in `seen` each MAIL FROM the server accepts on this client."""
    plain = client.mail

    def mail(sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        reply = plain(sender, options)
        if reply[0] == 250:
            seen.accepted = True
        return reply

    client.mail = mail  # type: ignore[method-assign]


def _safe_to_retry(exc: Exception, seen: _MailFrom) -> bool:
    """Whether a failed attempt on a kept connection cannot have delivered anything."""
    if seen.accepted:
        return False  # the server may have taken the message
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a reply that did not come in time as a disconnect.
        return not isinstance(exc.__context__, TimeoutError)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "closing": the server's idle timeout
    if isinstance(exc, smtplib.SMTPException | TimeoutError):
        return False
    return isinstance(exc, OSError)  # a reset or a broken pipe on the first command


def _attempt(kept: _KeptMail, messages: Sequence[EmailMessage]) -> None:
    backend = kept.backend
    kept.mail_from.accepted = False
    # open() answers True for a new connection, False when the kept one is open.
    if backend.open() and backend.connection is not None:
        _watch_mail_from(backend.connection, kept.mail_from)
    backend.send_messages(messages)


def send_messages(messages: Sequence[EmailMessage]) -> None:
    """Send the messages over this thread's connection to the mail server.

    Raises whatever the backend raises when a message was not accepted (after the one retry
    described above, where that is safe).
    """
    key, pid = _mail_key(), os.getpid()
    kept = _kept.mail
    if kept is not None and (kept.key != key or kept.pid != pid):
        _kept.mail = None
        if kept.pid == pid:  # a forked child leaves its parent's socket alone
            _drop_mail(kept.backend)
        kept = None
    if kept is None:
        backend = get_connection(fail_silently=False)
        if not isinstance(backend, SmtpBackend):
            backend.send_messages(messages)  # nothing to keep open
            return
        kept = _kept.mail = _KeptMail(key, backend, pid)
    backend = kept.backend
    reused = backend.connection is not None
    if reused and (
        time.monotonic() - kept.last_used > IDLE_LIMIT
        or _readable(getattr(backend.connection, "sock", None))
    ):
        _drop_mail(backend)
        reused = False
    try:
        try:
            _attempt(kept, messages)
        except Exception as exc:
            _drop_mail(backend)
            if not (reused and _safe_to_retry(exc, kept.mail_from)):
                raise
            _attempt(kept, messages)  # once, on a new connection
    except Exception:
        _drop_mail(backend)
        raise
    kept.last_used = time.monotonic()


def close() -> None:
    """Close this thread's kept connections (tests; a thread that is about to end)."""
    mail, _kept.mail = _kept.mail, None
    if mail is not None and mail.pid == os.getpid():
        _drop_mail(mail.backend)
    kept_http, _kept.http = _kept.http, None
    if kept_http is not None and kept_http.pid == os.getpid():
        kept_http.connection.close()


# -- HTTP (the SMS gateway) ----------------------------------------------------------------


def http_get(host: str, port: int, path: str, *, https: bool, timeout: float) -> tuple[int, bytes]:
    """GET `path` over this thread's keep-alive connection to host:port: (status, body).

    The request is sent again, once on a new connection, only when sending it on a kept
    connection failed: once it went out, any failure is the caller's (the gateway may have
    taken the message). Raises OSError (timeouts included) or http.client.HTTPException.
    """
    key, pid = (host, port, https, timeout), os.getpid()
    kept = _kept.http
    if kept is not None and (kept.key != key or kept.pid != pid):
        _kept.http = None
        if kept.pid == pid:
            kept.connection.close()
        kept = None
    if kept is None:
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        kept = _kept.http = _KeptHttp(key, kind(host, port, timeout=timeout), pid)
    connection = kept.connection
    reused = connection.sock is not None
    if reused and (time.monotonic() - kept.last_used > IDLE_LIMIT or _readable(connection.sock)):
        connection.close()
        reused = False
    try:
        try:
            connection.request("GET", path)
        except (OSError, http.client.HTTPException):
            connection.close()
            if not reused:
                raise
            connection.request("GET", path)  # once, on a new connection
        response = connection.getresponse()
        status = response.status
        body = response.read(4096)
        if not response.isclosed():  # a longer answer than a gateway gives: not kept
            connection.close()
    except BaseException:
        connection.close()
        raise
    kept.last_used = time.monotonic()
    return status, body
