"""A client's API tokens: what a program or a directory holds to use the REST API or SCIM."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from deskgate.accounts.models import Client, User


class Scope(models.TextChoices):
    """What a token may do. One scope per token: a directory's token cannot read the trail,
    a report's token cannot change anyone."""

    SCIM = "scim", "SCIM provisioning"
    READ = "read", "REST API, read only"
    WRITE = "write", "REST API, read and write"


class ApiToken(models.Model):
    """One token of one client. The token itself is shown once; only its SHA-256 is kept
    (256 random bits: no dictionary reaches it, so stretching buys nothing and would cost
    every request). `hint` is its first characters, for telling tokens apart on the page.

    Writes go through `deskgate.apitokens.tokens`.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False)
    # The admin who created it (None: an operator at the command line). The token acts with
    # its client's admin rights while that admin is still an active admin of the client.
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_by_label = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_label = models.CharField(max_length=300, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    # The rate limit's window (its start) and the requests counted in it.
    window_start = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)
    # The last window in which a refusal of this token (revoked, expired, scope, its maker's
    # rights) was audited: once a minute at most, so a refused token cannot flood the trail.
    refusal_noted_window = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="api_token_name_required"),
            models.CheckConstraint(
                condition=Q(scope__in=Scope.values), name="api_token_scope_valid"
            ),
            # Labels tell tokens apart in the trail: unique among a client's live tokens.
            models.UniqueConstraint(
                "client",
                "name",
                condition=Q(revoked_at=None),
                name="api_token_name_unique_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client})"

    def expired(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= moment  # type: ignore[operator]

    @property
    def status(self) -> str:
        """What the token page says of it."""
        if self.revoked_at is not None:
            return "Revoked"
        if self.expired():
            return "Expired"
        return "Active"
