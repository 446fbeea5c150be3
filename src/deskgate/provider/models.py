"""What the OpenID Provider keeps beside django-oauth-toolkit's own tables."""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import Application

from deskgate.accounts.models import Client, User


class AppProfile(models.Model):
    """Deskgate's side of a registered app: who may use it and where to tell it of logouts.

    An app with no clients listed is open to every client; otherwise only those clients'
    users may sign in to it (the others get `access_denied`).
    """

    application = models.OneToOneField(
        Application, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    clients = models.ManyToManyField(Client, blank=True, related_name="apps")
    backchannel_logout_uri = models.URLField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"profile of {self.application_id}"

    def open_to(self, client_id: int) -> bool:
        allowed = [c.pk for c in self.clients.all()]
        return not allowed or client_id in allowed


class Authorization(models.Model):
    """One authorization granted to an app, from the code to the tokens it led to.

    It keeps what the sign-in checked at that moment (`amr`, `auth_time`, the session's
    `sid`) for the ID tokens, and the code's hash so that a replayed code finds the tokens
    the first exchange issued and revokes them (RFC 6749 section 4.1.2).

    `ended_at` is set when the sign-in ended (the session signed out, the password
    changed, ...): its tokens were revoked then and the app told once; a later end does
    not tell it again, and a code of it not yet exchanged is refused.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_authorizations")
    sid = models.CharField(max_length=43, db_index=True)
    amr = models.JSONField(default=list)
    acr = models.CharField(max_length=100, blank=True, default="")
    auth_time = models.DateTimeField()
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    exchanged_at = models.DateTimeField(null=True)
    token_family = models.UUIDField(null=True, db_index=True)
    ended_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"authorization {self.pk} of {self.user_id} for {self.application_id}"


class LogoutDelivery(models.Model):
    """A back-channel logout token owed to one app, until delivered or given up."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=43, blank=True, default="")
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True)
    failed_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"logout of {self.user_id} for {self.application_id}"
