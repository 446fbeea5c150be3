"""The validator's fixed reads of an app, a grant and an access token (issue 17) build what
the ORM's `select_related(...).first()` builds: every field, the related rows, None where a key
is empty, nothing for an unknown key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant

from deskgate.accounts.models import User
from deskgate.provider import registry, validator
from tests.provider.conftest import App, a_grant


def values(instance: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_fixed_reads_build_what_the_orm_builds(
    app: App, agent: User, django_assert_num_queries: Any
) -> None:
    application = Application.objects.get(client_id=app.client_id)
    a_grant(application, agent, "the-code", expires=timezone.now() + timedelta(seconds=60)).save()
    for token_checksum, user in (("a" * 64, agent), ("b" * 64, None)):
        AccessToken.objects.create(
            user=user,
            application=application,
            token_checksum=token_checksum,
            expires=timezone.now() + timedelta(seconds=600),
            scope="openid",
        )

    with django_assert_num_queries(1):
        grant = validator._GRANT.first(["the-code"])
        assert grant is not None and grant.user.client.name  # no further query
        assert grant.application.client_id == app.client_id
    expected = Grant.objects.select_related("user__client", "application").get(code="the-code")
    assert values(grant) == values(expected)
    assert values(grant.user) == values(expected.user)
    assert values(grant.user.client) == values(expected.user.client)
    assert values(grant.application) == values(expected.application)

    for checksum in ("a" * 64, "b" * 64):
        with django_assert_num_queries(1):
            token = validator._ACCESS_TOKEN.first([checksum])
            assert token is not None
            user = token.user
            assert token.application.client_id == app.client_id
            client = user.client if user is not None else None
        expected_token = AccessToken.objects.select_related("application", "user__client").get(
            token_checksum=checksum
        )
        assert values(token) == values(expected_token)
        assert values(token.application) == values(expected_token.application)
        if expected_token.user is None:
            assert user is None
        else:
            assert user is not None and client is not None
            assert values(user) == values(expected_token.user)
            assert values(client) == values(expected_token.user.client)
        assert not token._state.adding

    with django_assert_num_queries(1):
        read = validator._application(app.client_id)
    assert read is not None and values(read) == values(application)

    assert validator._application("no-such-app") is None
    assert validator._GRANT.first(["no-such-code"]) is None
    assert validator._ACCESS_TOKEN.first(["c" * 64]) is None


def test_an_app_read_with_its_client_list_asks_no_more_when_it_lists_none(
    register: Any, tenant_factory: Any, django_assert_num_queries: Any
) -> None:
    ours, theirs = tenant_factory("Ours"), tenant_factory("Theirs")
    open_app, listed_app = register("Open"), register("Listed", clients=["Ours"])

    read = validator._application(open_app.client_id)
    assert read is not None
    with django_assert_num_queries(0):  # the read said it lists no client
        assert registry.open_to(read, theirs.pk)

    read = validator._application(listed_app.client_id)
    assert read is not None
    with django_assert_num_queries(2):  # it lists some: asked for each client
        assert registry.open_to(read, ours.pk)
        assert not registry.open_to(read, theirs.pk)

    # An app read otherwise says nothing about its list: asked.
    plain = Application.objects.get(client_id=open_app.client_id)
    with django_assert_num_queries(1):
        assert registry.open_to(plain, theirs.pk)
