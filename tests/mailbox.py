"""Reading the codes the product sent, wherever a test's messages went.

    code_in(text)            the code in one message's text (fails the test if none)
    codes_in(text)           every code in a text
    messages_to(address)     every email or SMS text to an address or number, oldest first
    codes_to(address)        the codes among those
    last_code(user)          the newest code to the user's MFA destination
    codes_sent_to(user)      how many messages went to it

Messages are read from where the product puts them in a test: Django's `mail.outbox` (the
test email backend, also for the live server's thread) and the development outbox table
(`OutboxMessage`: every SMS, and email when a server in another process uses the
development backend). For the real SMTP server and Kannel harnesses, pass the received
message's text to `code_in`.

A code is as long as the sign-in settings say (`app_settings.CODE.digits`), read when asked,
so a test that changes the policy reads its own codes.
"""

from __future__ import annotations

import functools
import re

from django.core import mail

from deskgate.accounts.models import MfaMethod, User
from deskgate.delivery.models import OutboxMessage
from deskgate.signin.app_settings import app_settings


@functools.lru_cache(maxsize=4)
def _pattern(digits: int) -> re.Pattern[str]:
    return re.compile(rf"\b(\d{{{digits}}})\b")


def code_pattern() -> re.Pattern[str]:
    """A code, as a whole word, as long as the sign-in settings make codes."""
    return _pattern(app_settings.CODE.digits)


def codes_in(text: str) -> list[str]:
    return code_pattern().findall(text)


def find_code(text: str) -> str | None:
    """The first code in `text`, or None."""
    match = code_pattern().search(text)
    return match.group(1) if match else None


def code_in(text: object) -> str:
    """The first code in `text` (a string, or a mail's lazy body); fails the test if none."""
    code = find_code(str(text))
    assert code is not None, f"no code in: {text}"
    return code


def other_code(code: str) -> str:
    """A wrong code: the right one, off by one in its last digits."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def messages_to(destination: str) -> list[str]:
    """Every email or SMS text delivered to an address or number, oldest first."""
    from deskgate.signin import reset_delivery

    # Reset links are sent after the response, by a worker thread: wait for it.
    assert reset_delivery.worker.wait_idle(timeout=60), "the reset mail worker did not finish"
    emails = [str(m.body) for m in mail.outbox if destination in m.to]
    stored = list(
        OutboxMessage.objects.filter(to=destination).order_by("id").values_list("body", flat=True)
    )
    return emails + stored


def codes_to(destination: str) -> list[str]:
    """The codes delivered to an address or number, oldest first (one per message)."""
    return [code for text in messages_to(destination) if (code := find_code(text))]


def destination_of(user: User) -> str:
    """Where the user's codes go, as stored now: the work phone for SMS, else the email."""
    fresh = User.objects.only("mfa_method", "email", "work_phone").get(pk=user.pk)
    return fresh.work_phone if fresh.mfa_method == MfaMethod.SMS else fresh.email


def last_code(user: User) -> str:
    """The code in the newest message to the user's MFA destination (email or SMS)."""
    destination = destination_of(user)
    found = codes_to(destination)
    assert found, f"no code was delivered to {destination}"
    return found[-1]


def codes_sent_to(user: User) -> int:
    """How many messages went to the user's MFA destination."""
    return len(messages_to(destination_of(user)))
