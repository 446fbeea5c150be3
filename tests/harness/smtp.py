"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and a silent one.

    server = SmtpServer()              # or SmtpServer(username="u", password="p") for AUTH
    server.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    ...
    mail = server.wait_for("anna@example.com")
    assert "123456" in mail.body
    server.stop()

For the client's connection handling: `connections` counts the connections clients made
(since start or clear()), `drop_connections()` closes every open one from the server's side,
`drop_at_next_mail = True` makes the server hang up on the next MAIL FROM without an
answer, `drop_after_next_data = True` hang up once it has the next message's data (kept,
but never acknowledged), and `refuse_data = True` answer every message's data with a 554;
`data_attempts` counts the messages whose data arrived, refused or not.

`SlowSmtpServer` accepts TCP connections and never says a word (not even the 220 greeting),
so a client without a timeout hangs forever: use it to test timeouts.
"""

from __future__ import annotations

import contextlib
import email
import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.harness.net import LOOPBACK, free_port

__all__ = ["ReceivedEmail", "SlowSmtpServer", "SmtpServer"]

# aiosmtpd logs each connection's comings and goings at INFO from its own thread; a kept
# connection of a finished request thread closes later, and its line went into a test's
# log capture that was already closed ("--- Logging error ---" in the output). Its
# warnings and errors still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ReceivedEmail:
    """One message as the server received it."""

    mail_from: str  # envelope sender (MAIL FROM)
    rcpt_tos: tuple[str, ...]  # envelope recipients (RCPT TO)
    to: tuple[str, ...]  # addresses in the To header
    sender: str  # the From header, as written
    subject: str
    body: str  # the text/plain part (else text/html), decoded to str
    message: EmailMessage = field(repr=False)  # the whole parsed message
    auth_login: str | None = None  # who logged in with AUTH before sending, if anyone

    @property
    def recipients(self) -> set[str]:
        """Every address the message went to, envelope and To header, lower-cased."""
        return {a.lower() for a in (*self.rcpt_tos, *self.to)}


def _parse(mail_from: str, rcpt_tos: list[str], data: bytes, login: str | None) -> ReceivedEmail:
    # On the wire lines end in CRLF; tests compare with "\n".
    message = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    return ReceivedEmail(
        mail_from=mail_from,
        rcpt_tos=tuple(rcpt_tos),
        to=tuple(addr for _, addr in getaddresses(message.get_all("To", []))),
        sender=str(message.get("From", "")),
        subject=str(message.get("Subject", "")),
        body=body,
        message=message,
        auth_login=login,
    )


def _predicate(match: str | Callable[[ReceivedEmail], bool] | None) -> Callable[..., bool]:
    if match is None:
        return lambda m: True
    if isinstance(match, str):
        address = match.lower()
        return lambda m: address in m.recipients
    return match


class _Session(SMTP):
    """aiosmtpd's protocol, reporting each connection to the server that counts them."""

    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def connection_made(self, transport: Any) -> None:
        first = self.transport is None  # STARTTLS calls this again on the same connection
        super().connection_made(transport)
        if first:
            self._owner._opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._owner._closed(self)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        return _Session(self._owner, self.handler, **self.SMTP_kwargs)


def _hang_up(server: Any) -> None:
    if server.transport is not None:
        server.transport.close()


class _Handler:
    """aiosmtpd handler: the hooks are called in the controller's thread."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # aiosmtpd's own auth_required=True warns on every connection when TLS is off, so the
        # requirement is enforced here instead, with the answer a real server gives.
        if self._server.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self._server.drop_at_next_mail:
            self._server.drop_at_next_mail = False
            _hang_up(server)
            return "421 4.4.2 Closing connection"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = getattr(session.auth_data, "login", None)  # a LoginPassword after AUTH
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self._server._changed:
            self._server.data_attempts += 1
        if self._server.refuse_data:
            return "554 5.6.0 Message refused"
        self._server._add(_parse(envelope.mail_from, list(envelope.rcpt_tos), data, login))
        if self._server.drop_after_next_data:
            self._server.drop_after_next_data = False
            _hang_up(server)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port, keeping every message it receives.

    With username and password it offers AUTH PLAIN and LOGIN (without TLS, as on loopback
    nothing needs it) and refuses MAIL FROM until the client has logged in with exactly
    those; `auth_failures` counts the refused logins.
    """

    host = LOOPBACK

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.username = username
        self.password = password
        self.port = 0
        self.auth_failures = 0
        self.connections = 0
        self.data_attempts = 0
        self.drop_at_next_mail = False
        self.drop_after_next_data = False
        self.refuse_data = False
        self._messages: list[ReceivedEmail] = []
        self._changed = threading.Condition()
        self._open: set[_Session] = set()
        self._controller: Controller | None = None

    @property
    def auth_required(self) -> bool:
        return self.username is not None

    @property
    def url(self) -> str:
        """The product's EMAIL_URL for this server: smtp://[user:pass@]127.0.0.1:<port>."""
        auth = ""
        if self.username is not None and self.password is not None:
            auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        return f"smtp://{auth}{self.host}:{self.port}"

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self.auth_required:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        last_error: Exception | None = None
        for _ in range(5):  # a free port can be taken by someone else before we bind it
            port = free_port()
            handler = _Handler(self)
            controller = _Controller(self, handler, hostname=self.host, port=port, **kwargs)
            try:
                controller.start()
            except Exception as error:  # aiosmtpd raises several kinds; retry on another port
                last_error = error
                continue
            self._controller, self.port = controller, port
            with self._changed:
                self.connections = 0  # start() made one itself, to see the server answer
            return self
        raise RuntimeError(f"could not start the SMTP server on {self.host}: {last_error}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what arrived -----------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedEmail]:
        """A copy of the messages received so far, oldest first."""
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
            self.auth_failures = self.connections = self.data_attempts = 0
            self.drop_at_next_mail = self.drop_after_next_data = self.refuse_data = False

    def drop_connections(self, timeout: float = 5) -> None:
        """Hang up every open client connection, as a server does to idle clients."""
        controller = self._controller
        assert controller is not None, "the server is not running"
        with self._changed:
            sessions = list(self._open)
        for session in sessions:
            controller.loop.call_soon_threadsafe(_hang_up, session)
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._open & set(sessions):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the connections did not close")
                self._changed.wait(remaining)

    def _opened(self, session: _Session) -> None:
        with self._changed:
            self.connections += 1
            self._open.add(session)
            self._changed.notify_all()

    def _closed(self, session: _Session) -> None:
        with self._changed:
            self._open.discard(session)
            self._changed.notify_all()

    def wait_for(
        self, match: str | Callable[[ReceivedEmail], bool] | None = None, timeout: float = 5
    ) -> ReceivedEmail:
        """The first message (already here or arriving within timeout) that matches.

        `match` is a recipient address (envelope or To header, any case), a predicate, or
        None for any message. Raises AssertionError, listing what did arrive, on timeout.
        """
        predicate = _predicate(match)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.rcpt_tos, m.subject) for m in self._messages]
                    raise AssertionError(
                        f"no email matching {match!r} within {timeout}s; received: {seen}"
                    )
                self._changed.wait(remaining)

    def _add(self, message: ReceivedEmail) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.username is not None and self.password is not None
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self.username.encode())
            and hmac.compare_digest(auth_data.password, self.password.encode())
        )
        if not ok:
            with self._changed:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class SlowSmtpServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a black hole for timeout tests.

    Connections are held open, unanswered, until stop(); `connections` counts them.
    """

    host = LOOPBACK

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> SlowSmtpServer:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        self._listener, self.port = listener, listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="slow-smtp", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                self._held.append(conn)
                self.connections += 1

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for conn in self._held:
                conn.close()
            self._held.clear()

    def __enter__(self) -> SlowSmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
