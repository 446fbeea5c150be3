from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from deskgate.accounts.models import User
from deskgate.delivery.models import OutboxMessage
from deskgate.signin import pipeline
from deskgate.signin.models import PendingSignIn, SignInVia

CODE_RE = re.compile(r"\b(\d{6})\b")


def last_code(user: User) -> str:
    """The code in the newest message to the user's MFA destination (email or SMS)."""
    if user.mfa_method == "sms":
        message = OutboxMessage.objects.filter(channel="sms", to=user.work_phone).first()
        assert message is not None, "no SMS was sent"
        text = message.body
    else:
        sent = [m for m in mail.outbox if user.email in m.to]
        assert sent, "no email was sent"
        text = str(sent[-1].body)
    match = CODE_RE.search(text)
    assert match, text
    return match.group(1)


def codes_sent_to(user: User) -> int:
    if user.mfa_method == "sms":
        return OutboxMessage.objects.filter(channel="sms", to=user.work_phone).count()
    return sum(user.email in m.to for m in mail.outbox)


@pytest.fixture
def pending_for() -> Callable[[User], PendingSignIn]:
    def make(user: User) -> PendingSignIn:
        return pipeline.create_pending(user, via=SignInVia.PASSWORD, ip="127.0.0.1")

    return make


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], datetime]:
    """Django's clock, stopped, and moved forward only by the given amount (cumulative).

    Stopped, not running with an offset: on a loaded machine a running clock adds its own
    seconds between two readings, and durations measured against it drift."""
    base = timezone.now()
    offset = timedelta()

    def advance(by: timedelta) -> datetime:
        nonlocal offset
        offset += by
        return base + offset

    monkeypatch.setattr(timezone, "now", lambda: base + offset)
    return advance
