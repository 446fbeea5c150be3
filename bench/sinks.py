"""Where the codes arrive: the test suite's SMTP server and Kannel, with a mailbox per recipient.

The harness servers keep one list and `wait_for()` scans it; with a thousand messages and
32 agents waiting at once, every arrival would wake every waiter to rescan the whole list.
These subclasses route each message, as it arrives, to its recipient's own queue instead;
the servers themselves (aiosmtpd; bearerbox + smsbox + fakesmsc) are the harness's.
"""

from __future__ import annotations

import queue
import threading

from tests.harness.kannel import Kannel, Sms
from tests.harness.smtp import ReceivedEmail, SmtpServer


class Mailboxes:
    """One FIFO of message texts per recipient (addresses lower-cased, numbers as sent)."""

    def __init__(self) -> None:
        self._boxes: dict[str, queue.SimpleQueue[str]] = {}
        self._lock = threading.Lock()
        self.received = 0

    def _box(self, to: str) -> queue.SimpleQueue[str]:
        with self._lock:
            box = self._boxes.get(to)
            if box is None:
                box = self._boxes[to] = queue.SimpleQueue()
            return box

    def put(self, to: str, text: str) -> None:
        self._box(to).put(text)
        with self._lock:
            self.received += 1

    def drain(self, to: str) -> int:
        """Forget what waits for `to` (codes of earlier sign-ins); answer how many."""
        box, n = self._box(to), 0
        while True:
            try:
                box.get_nowait()
            except queue.Empty:
                return n
            n += 1

    def code_for(self, to: str, timeout: float) -> str | None:
        """The code of the next message to `to`, or None if none came in time."""
        from tests.mailbox import find_code  # after django.setup(): it reads the code policy

        try:
            text = self._box(to).get(timeout=timeout)
        except queue.Empty:
            return None
        return find_code(text)


class MailSink(SmtpServer):
    """The harness's aiosmtpd server; each message goes to its recipients' mailboxes."""

    def __init__(self, boxes: Mailboxes) -> None:
        super().__init__()
        self.boxes = boxes

    def _add(self, message: ReceivedEmail) -> None:  # called in aiosmtpd's thread
        for to in message.recipients:
            self.boxes.put(to, message.body)


class SmsSink(Kannel):
    """The harness's Kannel (bearerbox, smsbox, fakesmsc); each SMS goes to its mailbox."""

    def __init__(self, boxes: Mailboxes) -> None:
        super().__init__()
        self.boxes = boxes

    def _publish(self, sms: Sms) -> None:  # called in the fakesmsc reader thread
        self.boxes.put(sms.to, sms.text)
