"""The rows an app's sign-in writes by fixed statements (rows.insert) are what the ORM's
`save()` writes: DOT's tokens (their checksum and RFC 8707 fields have their own
`pre_save`) and the provider's `Authorization`; and nothing listens for their saves
(rows.insert sends no signals)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from django.db.models import Model, signals
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator

from deskgate import rows
from deskgate.accounts.models import User
from deskgate.provider.models import Authorization
from tests.provider.conftest import App, a_grant

# Differ between two rows of one model by design: keys, clocks, unique values.
OWN = {"id", "created", "updated", "jti", "token_checksum", "code_hash", "access_token_id", "code"}


def values(instance: Model) -> dict[str, Any]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.attname not in OWN
    }


def stored(instance: Model) -> Model:
    return type(instance)._default_manager.get(pk=instance.pk)


def test_nothing_listens_for_the_saves_of_the_rows_written_by_fixed_statements() -> None:
    for model in (Grant, IDToken, AccessToken, RefreshToken, Authorization):
        for signal in (signals.pre_save, signals.post_save):
            assert not signal.has_listeners(model), (signal, model)


def test_the_fixed_inserts_write_what_save_writes(app: App, agent: User) -> None:
    application = Application.objects.get(client_id=app.client_id)
    expires = timezone.now() + timedelta(seconds=600)
    family = uuid.uuid4()
    validator = OAuth2Validator()

    def id_token() -> IDToken:
        return IDToken(
            user=agent,
            scope="openid profile",
            expires=expires,
            jti=str(uuid.uuid4()),
            application=application,
        )

    def access_token(linked: IDToken, raw: str) -> AccessToken:
        made = AccessToken(
            user=agent,
            scope="openid profile",
            expires=expires,
            id_token=linked,
            application=application,
            source_refresh_token=None,
            resource=["https://api.example.com/"],
        )
        validator._set_token_value(made, raw)
        return made

    def refresh_token(linked: AccessToken, raw: str) -> RefreshToken:
        made = RefreshToken(
            user=agent,
            application=application,
            access_token=linked,
            token_family=family,
            resource=[],
        )
        validator._set_token_value(made, raw)
        return made

    def authorization(code: str) -> Authorization:
        return Authorization(
            application=application,
            user=agent,
            sid="s" * 43,
            amr=["pwd", "otp", "mfa"],
            acr="urn:deskgate:acr:mfa",
            auth_time=expires,
            code_hash=code,
            created_at=expires,
        )

    def grant(code: str) -> Grant:
        return a_grant(application, agent, code, expires=expires)

    saved_grant, inserted_grant = grant("g1"), grant("g2")
    saved_grant.save()
    rows.insert(inserted_grant)
    saved_id, inserted_id = id_token(), id_token()
    saved_id.save()
    rows.insert(inserted_id)
    saved_access, inserted_access = access_token(saved_id, "a1"), access_token(inserted_id, "a2")
    saved_access.save()
    rows.insert(inserted_access)
    saved_refresh = refresh_token(saved_access, "r1")
    inserted_refresh = refresh_token(inserted_access, "r2")
    saved_refresh.save()
    rows.insert(inserted_refresh)
    saved_authorization, inserted_authorization = authorization("c1"), authorization("c2")
    saved_authorization.save()
    rows.insert(inserted_authorization)

    assert values(stored(inserted_id)) == values(stored(saved_id))
    access = stored(inserted_access)
    assert values(access) == {**values(stored(saved_access)), "id_token_id": inserted_id.pk}
    assert isinstance(access, AccessToken) and access.token == ""  # stored hashed only
    assert access.token_checksum == hashlib.sha256(b"a2").hexdigest()
    refresh = stored(inserted_refresh)
    assert values(refresh) == values(stored(saved_refresh))
    assert isinstance(refresh, RefreshToken) and refresh.access_token_id == inserted_access.pk
    assert refresh.token == "" and refresh.token_checksum == hashlib.sha256(b"r2").hexdigest()
    assert values(stored(inserted_authorization)) == values(stored(saved_authorization))
    assert values(stored(inserted_grant)) == values(stored(saved_grant))
    for instance in (
        inserted_grant,
        inserted_id,
        inserted_access,
        inserted_refresh,
        inserted_authorization,
    ):
        assert not instance._state.adding and instance.pk is not None
