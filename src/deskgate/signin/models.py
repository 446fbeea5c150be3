"""Server-side state of sign-ins in progress. The session holds only an opaque token."""

from __future__ import annotations

from django.db import models

from deskgate.accounts.models import User


class PendingSignIn(models.Model):
    """A sign-in whose password step succeeded and which has not reached a session yet.

    It is the only source of "who" at the steps after the password.
    """

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="pending_sign_ins")
    via = models.CharField(max_length=16, default="password")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    ip = models.GenericIPAddressField(null=True)
    code_passed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"pending sign-in of {self.user_id}"
