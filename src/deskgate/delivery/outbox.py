"""The development outbox: with no EMAIL_URL or SMS_URL, messages are kept for a page."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from deskgate.delivery.models import OutboxMessage


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    channel="email",
                    to=", ".join(message.to),
                    subject=str(message.subject),
                    body=str(message.body),
                )
                for message in email_messages
            ],
            batch_size=500,
        )
        return len(email_messages)
