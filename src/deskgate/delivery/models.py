from __future__ import annotations

from django.db import models


class OutboxMessage(models.Model):
    """A message kept by the development outbox instead of being sent (demo and debug only)."""

    channel = models.CharField(max_length=8)  # "email" or "sms"
    to = models.CharField(max_length=300)
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"


class SendCounter(models.Model):
    """Messages sent per scope (a user, a client, the platform) in one hourly window.

    Moved here from the sign-in app (its table keeps the name): every message Deskgate
    sends, codes and notices alike, counts against the caps in `deskgate.delivery.caps`.
    """

    scope = models.CharField(max_length=80)
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "signin_sendcounter"
        constraints = [
            models.UniqueConstraint(fields=["scope", "window"], name="send_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}@{self.window:%Y-%m-%d %H}: {self.count}"
