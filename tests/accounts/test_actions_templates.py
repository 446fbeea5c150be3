"""The actions on message templates."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from deskgate.accounts import actions
from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import MessageTemplate
from tests.accounts.conftest import World


def test_templates_are_unique_per_client(world: World) -> None:
    data = actions.TemplateInput("Promo", "sms", "Northwind", "", "Hi")
    actions.save_template(world.tenant, None, data, by=OPERATOR)
    with pytest.raises(ValidationError) as caught:
        actions.save_template(world.tenant, None, data, by=OPERATOR)
    assert "already a template named Promo" in caught.value.message_dict["name"][0]
    actions.save_template(world.southwind, None, data, by=OPERATOR)
    assert MessageTemplate.objects.filter(name="Promo").count() == 2
