"""django-oauth-toolkit's request validator, told what Deskgate knows.

- Claims: `sub` is the user's opaque subject; the rest by scope (`claims.py`).
- ID tokens carry the authorization's `auth_time`, `amr`, `acr` and `sid`, kept when the
  code was issued (`Authorization`), through every refresh.
- A code is exchanged once: the exchange claims its `Authorization` row with one
  conditional UPDATE, so of parallel or replayed exchanges exactly one gets tokens, and a
  replay revokes what the first exchange issued. The code of a sign-in that ended
  before the exchange (the person signed out meanwhile) gets nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any, cast

from django.db import connections, router, transaction
from django.db.models import signals
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider import cimd
from oauth2_provider.exceptions import FatalClientError
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from deskgate import rows
from deskgate.provider import claims, registry, revoke
from deskgate.provider.models import Authorization


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class DeskgateValidator(OAuth2Validator):
    oidc_claim_scope = None  # claims.released filters by scope

    # --- the app, read by a fixed statement ------------------------------------------------

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        """DOT's, with the app read by one fixed statement: every authorization and token
        request reads it, and the ORM's compile of it cost more than the read. What DOT
        does with an app it reads (a CIMD app's refresh, `is_usable`) it does here too,
        through its own code; an id the statement cannot take, or no such app, is DOT's
        to answer (CIMD, a NUL byte)."""
        if not request.client and isinstance(client_id, str) and "\x00" not in client_id:
            found = _grant_application(request, client_id) or _application(client_id)
            if found is not None:
                found = cimd.refresh_if_stale(found, request=request)
                if not found.is_usable(request):
                    return None
                request.client = found  # DOT's own check takes it from here
        loaded: Application | None = super()._load_application(client_id, request)
        return loaded

    # --- claims ---------------------------------------------------------------------------

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        return claims.released(claims.user_claims(request.user), request.scopes)

    def get_discovery_claims(self, request: Any) -> list[str]:
        names = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid"]
        return names + [name for name in claims.CLAIM_SCOPES if name not in names]

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], Any]:
        values, expires = super().get_id_token_dictionary(token, token_handler, request)
        authorization: Authorization | None = getattr(request, "deskgate_authorization", None)
        if authorization is not None:
            values["auth_time"] = int(authorization.auth_time.timestamp())
            values["amr"] = list(authorization.amr)
            values["acr"] = authorization.acr or claims.acr_for(authorization.amr)
            values["sid"] = authorization.sid
        return values, expires

    # --- prompt=none (the view has checked the session before oauthlib asks) --------------

    def validate_silent_login(self, request: Any) -> bool:
        return True  # Authorize answers login_required itself, before this is asked

    def validate_silent_authorization(self, request: Any) -> bool:
        # Without a page, only an app that needs no consent (first-party) can be authorized.
        return bool(getattr(request.client, "skip_authorization", False))

    # --- codes ----------------------------------------------------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        facts = getattr(request, "deskgate_facts", None) or {}
        amr = list(facts.get("amr", []))
        authorization = Authorization(
            application=request.client,
            user=request.user,
            sid=facts.get("sid", ""),
            amr=amr,
            acr=claims.acr_for(amr),
            auth_time=facts.get("auth_time") or timezone.now(),
            code_hash=code_hash(code["code"]),
            created_at=timezone.now(),
        )
        rows.insert(authorization, using=router.db_for_write(Authorization))

    def _create_authorization_code(
        self, request: Any, code: dict[str, str], expires: Any = None
    ) -> Grant:
        """DOT's, with the grant written by one fixed INSERT (rows.insert; the ORM's
        compile of it cost more than the statement). A "plain" PKCE method goes to DOT's
        own code, which refuses it (RFC 9700); the views ask for S256 before this."""
        if request.code_challenge_method == "plain":
            created: Grant = super()._create_authorization_code(request, code, expires)
            return created
        if not expires:
            expires = timezone.now() + timedelta(
                seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS
            )
        grant = Grant(
            application=request.client,
            user=request.user,
            code=code["code"],
            expires=expires,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=request.code_challenge_method or "",
            nonce=request.nonce or "",
            claims=json.dumps(request.claims or {}),
            resource=getattr(request, "resource", []),  # RFC 8707
        )
        return rows.insert(grant, using=router.db_for_write(Grant))

    # --- one read of the grant per token request (DOT reads it once per question) ---------
    # oauthlib's OpenID dispatcher asks for the code's scopes before the app is
    # authenticated: the grant's read brings the grant's app too, and `_load_application`
    # takes it when it is the app the request names (else it reads that one).

    def _grant(self, code: str, request: Any) -> Grant | None:
        cached = getattr(request, "_deskgate_grant", None)
        if cached is not None and cached.code == code:
            return cached
        # The user's client too: the ID token's claims name it (claims.user_claims).
        grant = _GRANT.first([code])
        request._deskgate_grant = grant
        return grant

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = self._grant(code, request)
        if grant is None or grant.application_id != client.pk:
            return False
        return grant.redirect_uri_allowed(redirect_uri)

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """DOT's: the code's grant deleted, InvalidGrantError if it was gone; as one fixed
        DELETE: nothing refers to a grant or listens for its deletion, so the ORM's
        deletion would collect nothing and send nothing."""
        if (
            Grant._meta.related_objects
            or signals.pre_delete.has_listeners(Grant)
            or signals.post_delete.has_listeners(Grant)
        ):
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
            return
        with connections[router.db_for_write(Grant)].cursor() as cursor:
            cursor.execute(_DELETE_GRANT, [code, request.client.pk])
            deleted = cursor.rowcount
        if not deleted:
            raise errors.InvalidGrantError(request=request)

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge or None) if grant is not None else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge_method or None) if grant is not None else None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> list[str]:
        grant = self._grant(code, request)
        return grant.scope.split(" ") if grant is not None and grant.scope else []

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> str | None:
        grant = self._grant(code, request)
        return (grant.nonce or None) if grant is not None else None

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        authorization = _claim(code_hash(code), client)
        if authorization is None:
            authorization = Authorization.objects.filter(
                code_hash=code_hash(code), application=client
            ).first()
            if authorization is None:
                return False
            if authorization.exchanged_at is None:
                return False  # the session signed out before the app exchanged its code
            revoke.replayed_code(authorization)
            return False
        grant = self._grant(code, request)  # DOT's validate_code, from the one read
        if grant is None or grant.application_id != client.pk or grant.is_expired():
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        if not request.user.is_active:
            return False  # deactivated after the code was issued (as validate_refresh_token)
        request.deskgate_authorization = authorization
        return True

    def _check_and_set_request_resource(self, request: Any) -> None:
        """DOT's RFC 8707 handling, with the grant `validate_code` read (DOT reads it
        again for its `resource`). Deskgate's apps ask for no resource indicators; a code
        that carries some is narrowed and checked exactly as DOT does."""
        if getattr(request, "_deskgate_resource_checked", False):
            return  # save_bearer_token has checked them before its writes
        if request.grant_type != "authorization_code":
            super()._check_and_set_request_resource(request)
            return
        request.grant_type = "deskgate:grant-read"  # DOT's normalisation and URI checks only
        try:
            super()._check_and_set_request_resource(request)
        finally:
            request.grant_type = "authorization_code"
        grant = self._grant(request.code, request)
        granted = (
            (grant.resource or [])
            if grant is not None and grant.application_id == request.client.pk
            else []
        )
        if request.resource and granted:
            for resource in request.resource:
                if resource not in granted:
                    raise errors.CustomOAuth2Error(
                        error="invalid_target",
                        description=(
                            f"The requested resource '{resource}' is not allowed. "
                            "Token request cannot escalate resource permissions beyond the "
                            "original authorization grant"
                        ),
                        request=request,
                    )
        elif granted:
            self._validate_resource_uris(request, granted)
            request.resource = granted

    # --- the ID token this request signed, kept for its access token ----------------------

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> str:
        using = router.db_for_write(IDToken)
        if not connections[using].in_atomic_block:
            serialized: str = super().finalize_id_token(id_token, token, token_handler, request)
            request.deskgate_id_token = (serialized, request.id_token)
            return serialized
        # DOT's, but the ID token's row is saved in the token endpoint's transaction
        # (views.Token) without a savepoint of its own (two statements less a token): only
        # a database error can come out of that save, and it leaves the request, so the
        # whole transaction is rolled back as it was.
        values, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**values)
        if "nonce" not in id_token and request.nonce:  # DOT's workaround of oauthlib's #746
            id_token["nonce"] = request.nonce
        header = {"typ": "JWT", "alg": request.client.algorithm}
        if request.client.algorithm == Application.RS256_ALGORITHM:
            header["kid"] = request.client.jwk_key.thumbprint()
        signed = jwt.JWT(
            header=json.dumps(header, default=str), claims=json.dumps(id_token, default=str)
        )
        signed.make_signed_token(request.client.jwk_key)
        with transaction.atomic(using=using, savepoint=False):
            saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = saved  # as DOT's (Django REST framework reads it)
        request.id_token = saved
        serialized = str(signed.serialize())
        request.deskgate_id_token = (serialized, saved)
        return serialized

    def _save_id_token(
        self, jti: Any, request: Any, expires: Any, *args: Any, **kwargs: Any
    ) -> IDToken:
        """DOT's, as one fixed INSERT (rows.insert: the ORM's compile of it cost more than
        the statement; nothing listens for the save of DOT's tokens)."""
        scopes = request.scope or " ".join(request.scopes)
        saved = IDToken(
            user=request.user,
            scope=scopes,
            expires=expires,
            jti=jti,
            application=request.client,
        )
        return rows.insert(saved, using=router.db_for_write(IDToken))

    def save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        """DOT's, without a savepoint of its own when a code is exchanged in the token
        endpoint's transaction (views.Token; two statements less a token). DOT's savepoint
        undid its writes when it answered an error (the app's, a 400) after them, and the
        code's claim was committed all the same. Its errors come from its checks before
        any write (the scope, RFC 8707's resources): those are made here first, outside
        the block, so they are answered exactly as before; what can fail after them is a
        database error, which leaves the request and rolls the whole transaction back."""
        using = router.db_for_write(AccessToken)
        if request.grant_type != "authorization_code" or not connections[using].in_atomic_block:
            return super().save_bearer_token(token, request, *args, **kwargs)
        if "scope" not in token:  # DOT's first check, word for word
            raise FatalClientError("Failed to renew access token: missing scope")
        self._check_and_set_request_resource(request)
        request._deskgate_resource_checked = True
        with transaction.atomic(using=using, savepoint=False):
            return self._save_bearer_token(token, request, *args, **kwargs)

    def _create_access_token(
        self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None
    ) -> AccessToken:
        """DOT's, except that the ID token signed and saved in this very request is taken
        as it is: DOT verifies the token's signature and reads its row back to link it.
        Any other ID token string goes through DOT's way."""
        issued = getattr(request, "deskgate_id_token", None)
        if issued is None or not token.get("id_token") or token["id_token"] != issued[0]:
            return super()._create_access_token(expires, request, token, source_refresh_token)
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=issued[1],
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),  # RFC 8707
        )
        self._set_token_value(access_token, token["access_token"])
        return rows.insert(access_token, using=router.db_for_write(AccessToken))

    # --- UserInfo -------------------------------------------------------------------------

    def _load_access_token(self, token: str) -> AccessToken | None:
        """DOT's read (the token with its app and user), with the user's client (the
        `deskgate` scope's claim names it)."""
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        return _ACCESS_TOKEN.first([checksum])

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> RefreshToken:
        authorization: Authorization | None = getattr(request, "deskgate_authorization", None)
        if (
            previous_refresh_token is None
            and authorization is not None
            and authorization.token_family is not None
        ):
            # DOT's, in the family the code's claim named (one UPDATE less a token).
            token = RefreshToken(
                user=request.user,
                application=request.client,
                access_token=access_token,
                token_family=authorization.token_family,
                resource=getattr(request, "resource", []),  # RFC 8707
            )
            self._set_token_value(token, refresh_token_code)
            return rows.insert(token, using=router.db_for_write(RefreshToken))
        token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        if authorization is not None and authorization.token_family is None:
            Authorization.objects.filter(pk=authorization.pk).update(
                token_family=token.token_family
            )
            authorization.token_family = token.token_family
        return token

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # Two refreshes of one token take turns (the token endpoint is one transaction,
        # views.Token): the second sees the first's rotation and is a reuse. Without the
        # lock, on PostgreSQL both passed DOT's check and the second failed with a 500
        # while saving (DOT's answer for it reads a token that is stored only hashed).
        checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
        list(RefreshToken.objects.select_for_update().filter(token_checksum=checksum).values("pk"))
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance = getattr(request, "refresh_token_instance", None)
        if instance is not None and not instance.user.is_active:
            return False
        if instance is not None and instance.token_family is not None:
            request.deskgate_authorization = Authorization.objects.filter(
                token_family=instance.token_family
            ).first()
        return True


def _claim_sql() -> str:
    meta = Authorization._meta
    columns = ", ".join(str(f.column) for f in meta.concrete_fields)
    return (
        f"UPDATE {meta.db_table} SET exchanged_at = %s, token_family = COALESCE(token_family, %s)"  # noqa: S608  # our table
        " WHERE code_hash = %s AND application_id = %s AND exchanged_at IS NULL"
        f" AND ended_at IS NULL RETURNING {columns}"
    )


_CLAIM = _claim_sql()


def _claim(hashed: str, client: Any) -> Authorization | None:
    """Claim the code's authorization for this exchange, once: one conditional UPDATE that
    answers the row it claimed (None: no such code of this app, or claimed or ended
    already). It names the family of the tokens the exchange issues, so that a replay or
    a sign-out finds them (revoke.families) from the moment of the claim."""
    family = uuid.uuid4()
    connection = connections[Authorization.objects.db]
    if not connection.features.can_return_columns_from_insert:
        found = Authorization.objects.filter(code_hash=hashed, application=client).first()
        if found is None:
            return None
        claimed = Authorization.objects.filter(
            pk=found.pk, exchanged_at=None, ended_at=None
        ).update(exchanged_at=timezone.now(), token_family=found.token_family or family)
        if not claimed:
            return None
        found.refresh_from_db()
        return found
    meta = Authorization._meta
    now = meta.get_field("exchanged_at").get_db_prep_value(timezone.now(), connection)
    named = meta.get_field("token_family").get_db_prep_value(family, connection)
    rows = Authorization.objects.raw(_CLAIM, [now, named, hashed, client.pk])
    return next(iter(rows), None)


_DELETE_GRANT = f'DELETE FROM "{Grant._meta.db_table}" WHERE "code" = %s AND "application_id" = %s'  # noqa: S608  # our table
# The app, and whether it lists the clients it is open to (`registry.open_to` asks no
# more of an app open to every client).
_APPLICATION = rows.Shape((Application, "t0"))
_APPLICATION_SQL = (
    f"SELECT {_APPLICATION.columns()}, {registry.lists_clients_sql('t0.id')}"  # noqa: S608  # our names
    f' FROM "{Application._meta.db_table}" t0 WHERE t0."client_id" = %s'
)


def _application(client_id: str) -> Application | None:
    found = _APPLICATION.one_and_rest(_APPLICATION_SQL, [client_id])
    if found is None:
        return None
    application = cast(Application, found[0][0])
    registry.note_lists_clients(application, found[1][0])
    return application


_GRANT: rows.Joined[Grant] = rows.Joined(
    Grant, [(0, "user"), (1, "client"), (0, "application")], 't0."code" = %s'
)

_ACCESS_TOKEN: rows.Joined[AccessToken] = rows.Joined(
    AccessToken, [(0, "application"), (0, "user"), (2, "client")], 't0."token_checksum" = %s'
)


def _grant_application(request: Any, client_id: str) -> Application | None:
    """The app of the grant this request has read, when it is the one named `client_id`
    (the same row `_APPLICATION` would read, in the same request)."""
    grant: Grant | None = getattr(request, "_deskgate_grant", None)
    if grant is None:
        return None
    application: Application | None = grant.application
    if application is None or application.client_id != client_id:
        return None
    return application
