"""Revoking what an app holds: a family of tokens, or everything a user holds.

ID tokens are kept: they grant nothing (UserInfo and the APIs take access tokens), and an
app that was not told of a logout still sends its ID token as `id_token_hint` to the
logout endpoint, which must find it to send the person back to the app (as
django-oauth-toolkit keeps them when it rotates a refresh token).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from deskgate.accounts import audit
from deskgate.accounts.models import AuditAction, User
from deskgate.provider.models import Authorization


def families(token_families: Iterable[uuid.UUID | None]) -> int:
    """Revoke every refresh token of these families and the access tokens they led to;
    answer how many refresh tokens were live."""
    wanted = [f for f in token_families if f is not None]
    if not wanted:
        return 0
    live = RefreshToken.objects.filter(token_family__in=wanted, revoked__isnull=True).update(
        revoked=timezone.now()
    )
    tokens = AccessToken.objects.filter(
        Q(refresh_token__token_family__in=wanted) | Q(source_refresh_token__token_family__in=wanted)
    )
    tokens.delete()
    return live


def everything_of(user: User) -> None:
    """Revoke every token any app holds for `user` (deactivation, a new password)."""
    RefreshToken.objects.filter(user=user, revoked__isnull=True).update(revoked=timezone.now())
    AccessToken.objects.filter(user=user).delete()


def replayed_code(authorization: Authorization) -> None:
    """A code came back after it was exchanged: someone else may hold it. What the first
    exchange issued is revoked (RFC 6749 section 4.1.2), and the user's admins see it."""
    fresh = Authorization.objects.filter(pk=authorization.pk).first()
    revoked = families([fresh.token_family if fresh else authorization.token_family])
    user = authorization.user
    audit.record(
        AuditAction.OIDC_CODE_REPLAYED,
        client=user.client,
        by=audit.Actor(),
        subject=user,
        summary=f"An authorization code of {user.label} was used twice; "
        f"the tokens it gave were revoked",
        app=authorization.application.name,
        revoked=revoked,
    )
