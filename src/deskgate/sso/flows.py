"""SSO as a sign-in stage: configure a client's provider, start a sign-in, finish it.

SSO creates no users: the provider's verified email finds an existing, Active user of
that client with that Email (the vendor's rule); the first sign-in records the provider's
subject, and later sign-ins must come with the same subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from deskgate.accounts import audit, permissions
from deskgate.accounts.models import AuditAction, Client, User
from deskgate.sso import provider, sealing
from deskgate.sso.models import ProviderConfig, SsoIdentity

SESSION_KEY = "deskgate.sso"
FLOW_LIFETIME = 600  # seconds a started SSO sign-in may take


def redirect_uri() -> str:
    """The one address to register at every provider."""
    return settings.DESKGATE_BASE_URL + reverse("sso:callback")


def company_url(client: Client) -> str:
    """The company's own SSO sign-in address."""
    return settings.DESKGATE_BASE_URL + reverse("sso:company", args=[client.slug])


def config_for(client: Client) -> ProviderConfig | None:
    return ProviderConfig.objects.filter(client=client).first()


def same_provider(config: ProviderConfig, issuer: str, client_id: str) -> bool:
    """Is this the issuer and client id the saved secret was entered for?"""
    return (config.issuer, config.oidc_client_id) == (issuer, client_id)


@dataclass
class SsoInput:
    issuer: str
    client_id: str
    secret: str  # empty: keep the saved secret
    mandatory: bool
    require_idp_mfa: bool


def configure(client: Client, data: SsoInput, *, by: audit.Actor) -> ProviderConfig:
    """Save a client's SSO after checking discovery and, with a new secret, the credentials."""
    permissions.check(by.user, permissions.Op.SSO_SETTINGS, client.pk)
    existing = config_for(client)
    errors: dict[str, list[str]] = {}
    issuer = provider.normalise_issuer(data.issuer)
    client_id = data.client_id.strip()
    secret = data.secret.strip()
    if not client_id:
        errors["client_id"] = ["Enter the client id (application id) from the provider."]
    if not secret and existing is None:
        errors["secret"] = ["Enter the client secret from the provider."]
    elif not secret and existing is not None and not same_provider(existing, issuer, client_id):
        # The saved secret was entered for the saved issuer and client id: it is never sent
        # to a provider it was not entered for (nor tried against another client id).
        errors["secret"] = [
            "You changed the issuer URL or the client id: enter the client secret again."
        ]
    endpoints = None
    try:
        endpoints = provider.discover(issuer, fresh=True)
    except provider.ProviderError as exc:
        errors["issuer"] = [str(exc)]
    if not secret and existing is not None and "secret" not in errors:
        secret = sealing.decrypt(existing.secret_encrypted) or ""
        if not secret:
            errors["secret"] = ["The saved secret cannot be read any more: enter it again."]
    if endpoints is not None and client_id and secret and "secret" not in errors:
        try:
            provider.check_client_credentials(endpoints, client_id, secret)
        except provider.ProviderError as exc:
            errors["secret"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The client's row lock serialises this with user writes, whose rule "in a client
        # with SSO an Email is one active user's" reads whether SSO is set up.
        Client.objects.select_for_update().filter(pk=client.pk).first()
        config, created = ProviderConfig.objects.update_or_create(
            client=client,
            defaults={
                "issuer": issuer,
                "oidc_client_id": client_id,
                "secret_encrypted": sealing.encrypt(secret),
                "mandatory": data.mandatory,
                "require_idp_mfa": data.require_idp_mfa,
            },
        )
        audit.record(
            AuditAction.SSO_CONFIGURED,
            client=client,
            by=by,
            summary=f"SSO {'set up' if created else 'changed'}: {issuer}"
            + (", mandatory" if data.mandatory else ""),
            issuer=issuer,
            mandatory=data.mandatory,
            require_idp_mfa=data.require_idp_mfa,
        )
    return config


def check_connection(config: ProviderConfig) -> str:
    """Discovery and credentials as they are saved; answer what is fine, or raise."""
    endpoints = provider.discover(config.issuer, fresh=True)
    secret = sealing.decrypt(config.secret_encrypted)
    if not secret:
        raise provider.ProviderError("The saved secret cannot be read any more: enter it again.")
    provider.check_client_credentials(endpoints, config.oidc_client_id, secret)
    return f"The provider at {endpoints.issuer} answers and accepts the client id and secret."


def start(session: Any, client: Client) -> str:
    """Begin an SSO sign-in for `client`: answer the provider's URL to send the browser to."""
    config = config_for(client)
    if config is None:
        raise provider.ProviderError("SSO is not set up for this company.")
    endpoints = provider.discover(config.issuer)
    request = provider.authorization_request(endpoints, config.oidc_client_id, redirect_uri())
    session[SESSION_KEY] = {
        "client": client.pk,
        "state": request.state,
        "nonce": request.nonce,
        "verifier": request.code_verifier,
        "started": timezone.now().timestamp(),
    }
    return request.url


class Refusal(StrEnum):
    """Why an SSO sign-in was refused; recorded in the audit event (never shown as is)."""

    STATE = "state"  # not started here, or its answer already used
    EXPIRED = "expired"
    NO_CONFIG = "no_config"
    PROVIDER_ERROR = "provider_error"  # the provider answered with an error
    PROVIDER = "provider"  # the provider could not be reached or its answer did not check out
    NO_EMAIL = "no_email"
    EMAIL_UNVERIFIED = "email_unverified"
    NO_ACCOUNT = "no_account"
    AMBIGUOUS = "ambiguous"  # several active users of the client have that email
    SUBJECT_OTHER_USER = "subject_other_user"
    SUBJECT_MISMATCH = "subject_mismatch"


class Refused(Exception):
    """The SSO sign-in is refused; the message is for the person signing in."""

    def __init__(
        self,
        message: str,
        *,
        reason: Refusal,
        client: Client | None = None,
        user: User | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.client = client
        self.user = user


@dataclass(frozen=True)
class Outcome:
    user: User
    idp_did_mfa: bool


def finish(session: Any, *, state: str, code: str, error: str = "") -> Outcome:
    """Check the provider's answer and find the user it is for."""
    flow = session.pop(SESSION_KEY, None)
    if not isinstance(flow, dict) or not state or state != flow.get("state"):
        raise Refused(
            gettext("This SSO sign-in was not started here or was already used. Start again."),
            reason=Refusal.STATE,
        )
    if timezone.now().timestamp() - float(flow.get("started", 0)) > FLOW_LIFETIME:
        raise Refused(
            gettext("This SSO sign-in took too long. Start again."), reason=Refusal.EXPIRED
        )
    client = Client.objects.filter(pk=int(flow.get("client") or 0)).first()
    config = config_for(client) if client is not None else None
    if client is None or config is None:
        raise Refused(
            gettext("SSO is not set up for this company any more."), reason=Refusal.NO_CONFIG
        )
    if error:
        raise Refused(
            gettext("The identity provider did not sign you in (%(error)s).") % {"error": error},
            reason=Refusal.PROVIDER_ERROR,
            client=client,
        )
    secret = sealing.decrypt(config.secret_encrypted) or ""
    try:
        endpoints = provider.discover(config.issuer)
        claims = provider.exchange_code(
            endpoints,
            client_id=config.oidc_client_id,
            secret=secret,
            redirect_uri=redirect_uri(),
            code=code,
            code_verifier=str(flow["verifier"]),
            nonce=str(flow["nonce"]),
        )
    except provider.ProviderError as exc:
        raise Refused(
            gettext("SSO sign-in failed: %(exc)s") % {"exc": exc},
            reason=Refusal.PROVIDER,
            client=client,
        ) from None
    return Outcome(user=_user_for(client, config, claims), idp_did_mfa=provider.did_mfa(claims))


def _user_for(client: Client, config: ProviderConfig, claims: dict[str, Any]) -> User:
    email = str(claims.get("email") or "").strip()
    subject = str(claims.get("sub") or "")
    no_account = (
        "There is no active Deskgate account with this email address at your company. "
        "Ask your admin: SSO signs in existing users only."
    )
    if not email or not subject:
        raise Refused(
            gettext("The identity provider did not send an email address."),
            reason=Refusal.NO_EMAIL,
            client=client,
        )
    if not provider.email_verified(claims):
        raise Refused(
            gettext(
                "The identity provider has not verified this email address, so it cannot sign you "
                "in."
            ),
            reason=Refusal.EMAIL_UNVERIFIED,
            client=client,
        )
    users = list(
        User.objects.select_related("client").filter(
            client=client, email__iexact=email, is_active=True
        )[:2]
    )
    if len(users) != 1:
        raise Refused(
            no_account
            if not users
            else "Several accounts at your company have this email address; SSO cannot "
            "tell which is yours. Ask your admin.",
            reason=Refusal.NO_ACCOUNT if not users else Refusal.AMBIGUOUS,
            client=client,
        )
    user = users[0]
    with transaction.atomic():
        known = (
            SsoIdentity.objects.select_for_update()
            .filter(client=client, issuer=config.issuer, subject=subject)
            .first()
        )
        mine = SsoIdentity.objects.select_for_update().filter(user=user).first()
        if known is not None and known.user_id != user.pk:
            raise Refused(no_account, reason=Refusal.SUBJECT_OTHER_USER, client=client, user=user)
        if mine is not None and (mine.issuer, mine.subject) != (config.issuer, subject):
            raise Refused(
                gettext(
                    "This account is linked to another identity at the provider. Ask your admin."
                ),
                reason=Refusal.SUBJECT_MISMATCH,
                client=client,
                user=user,
            )
        if mine is None:
            SsoIdentity.objects.create(
                client=client,
                user=user,
                issuer=config.issuer,
                subject=subject,
                last_used_at=timezone.now(),
            )
        else:
            SsoIdentity.objects.filter(pk=mine.pk).update(last_used_at=timezone.now())
    return user
