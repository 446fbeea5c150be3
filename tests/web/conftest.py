"""Fixtures for the admin pages: another client, and a signed-in browser for any user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, MessageTemplate, User
from tests.conftest import sign_in


@pytest.fixture
def signed_in(db: None) -> Callable[[User], HttpClient]:
    """A browser signed in as `user` through the real password page."""

    def make(user: User) -> HttpClient:
        http = HttpClient()
        response = sign_in(http, user)
        assert response.status_code == 302, response.content[:500]
        assert response["Location"] == "/", response["Location"]
        return http

    return make


@pytest.fixture
def other_tenant(tenant_factory: Callable[..., Client]) -> Client:
    return tenant_factory("Contoso", "25.4")


@pytest.fixture
def template_factory(db: None) -> Callable[..., MessageTemplate]:
    def make(
        client: Client,
        name: str,
        *,
        channel: str = "sms",
        sender: str = "Northwind",
        subject: str = "",
        body: str = "Hello from {agent.name}.",
    ) -> MessageTemplate:
        template, _ = actions.save_template(
            client,
            None,
            actions.TemplateInput(
                name=name, channel=channel, sender=sender, subject=subject, body=body
            ),
            by=OPERATOR,
        )
        return template

    return make
