"""Actions on message templates: create or edit one (its rules: `rules.templates`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from deskgate.accounts import audit, permissions, rules
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, Client, MessageTemplate


@dataclass
class TemplateInput(rules.TemplateFields):
    """A template's fields as typed (in the template editor or the demo data)."""


def save_template(
    client: Client, template: MessageTemplate | None, data: TemplateInput, *, by: Actor
) -> tuple[MessageTemplate, list[str]]:
    """Create or edit a message template; answer with the R5 warnings it raises."""
    permissions.check(by, permissions.Op.TEMPLATES_EDIT, client.pk)
    cleaned, errors = rules.check_template(
        client, data, template_id=template.pk if template is not None else None
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        created = template is None
        if template is None:
            template = MessageTemplate(client=client)
        template.name = cleaned.name
        template.channel = cleaned.channel
        template.sender = cleaned.sender
        template.subject = cleaned.subject
        template.body = cleaned.body
        template.save()
        audit.record(
            AuditAction.TEMPLATE_CREATED if created else AuditAction.TEMPLATE_CHANGED,
            client=client,
            by=by,
            summary=(
                f"Message template \u201c{cleaned.name}\u201d {'created' if created else 'changed'}"
            ),
            template=template.pk,
        )
    return template, rules.template_warnings(template)
