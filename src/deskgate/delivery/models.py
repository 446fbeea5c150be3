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
