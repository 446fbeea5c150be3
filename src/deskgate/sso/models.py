"""Each client's OpenID Connect provider, and which provider subject is which user."""

from __future__ import annotations

from django.db import models

from deskgate.accounts.models import Client, User


class ProviderConfig(models.Model):
    """A client's SSO: its OpenID Connect provider and the rules for signing in with it."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="sso")
    issuer = models.CharField(max_length=300)
    oidc_client_id = models.CharField("Client id", max_length=300)
    # The client secret, encrypted with a key derived from SECRET_KEY; never shown again.
    secret_encrypted = models.TextField()
    mandatory = models.BooleanField(
        default=False, help_text="Users of this client cannot sign in with a password."
    )
    require_idp_mfa = models.BooleanField(
        default=False,
        help_text="Ask for our code unless the provider says it did MFA (amr/acr).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SSO of client {self.client_id} at {self.issuer}"


class SsoIdentity(models.Model):
    """The provider's subject a user first signed in with; later sign-ins must match it.

    Namespaced by client: one person's subject at a shared issuer (Google) may stand for
    accounts in two clients, never for two accounts in one.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sso_identities")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "issuer", "subject"], name="sso_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"


class SsoDomain(models.Model):
    """An email domain a client's admin registered for home-realm discovery.

    People who type an address at this domain on "Sign in with SSO" go to the client's
    provider, but only once the admin proved the domain is theirs by publishing
    `token` in DNS (`verified_at` set). Many clients may register a domain; one at most
    holds it verified, which the partial unique constraint guarantees under races.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253)  # lower case, IDNA (punycode) form
    token = models.CharField(max_length=64)  # the random part of the TXT record's value
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "domain"], name="sso_domain_once_per_client"),
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(verified_at__isnull=False),
                name="sso_domain_verified_once",
            ),
        ]
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def verified(self) -> bool:
        return self.verified_at is not None
