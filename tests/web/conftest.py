"""Fixtures for the admin pages: another client, and message templates."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import Client, MessageTemplate


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
