"""The rules of message templates: what a template may hold, and R5 (template tags read
the very fields MFA uses).

`check_template` answers, for a template as typed, how it would be saved and what is wrong
with it, keyed by the form field to show it on; `save_template` calls it before writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deskgate.accounts import contact
from deskgate.accounts.models import Channel, Client, Level, MessageTemplate, MfaMethod, User
from deskgate.accounts.rules.names import check_text, clean_name
from deskgate.accounts.rules.users import Errors, UserState

EMAIL_TAG = "{agent.email}"
WORKPHONE_TAG = "{agent.workphone}"
TEMPLATE_TAGS = {
    "{agent.name}": "full_name",
    "{agent.username}": "username",
    EMAIL_TAG: "email",
    WORKPHONE_TAG: "work_phone",
}
_TAG_RE = re.compile(r"\{[^{}\s]*\}")


def _listing(items: list[str]) -> str:
    """ "A", "A and B", "A, B and C": a list as a sentence says it."""
    if len(items) < 2:
        return "".join(items)
    return _("%(first)s and %(last)s") % {"first": ", ".join(items[:-1]), "last": items[-1]}


@dataclass
class TemplateFields:
    """A message template's fields: as typed (`actions.TemplateInput`), or as saved."""

    name: str
    channel: str
    sender: str
    subject: str
    body: str


def check_template(
    client: Client, data: TemplateFields, *, template_id: int | None
) -> tuple[TemplateFields, Errors]:
    """The template as it would be saved, and every rule it breaks (empty: it may be saved).

    `template_id`: the template being edited (None for a new one), whose own name is free.
    """
    errors: Errors = {}
    name = ""
    try:
        name = clean_name(data.name, "The template's name", 100)
    except ValidationError as exc:
        errors["name"] = list(exc.messages)
    if "name" in errors:
        pass
    elif not name:
        errors["name"] = ["Enter a name for the template."]
    else:
        same = MessageTemplate.objects.filter(client=client, name__iexact=name)
        if template_id is not None:
            same = same.exclude(pk=template_id)
        if same.exists():
            errors["name"] = [f"There is already a template named {name}."]
    if data.channel not in ("email", "sms"):
        errors["channel"] = ["Choose Email or SMS."]
    sender = data.sender.strip()
    if not sender:
        errors["sender"] = ["Enter the sender: a fixed address or number, or a tag."]
    elif data.channel == "email" and sender != EMAIL_TAG:
        try:
            contact.clean_email(sender)
        except ValidationError:
            errors["sender"] = [f"An email template sends from an address or from {EMAIL_TAG}."]
    elif data.channel == "sms" and sender != WORKPHONE_TAG:
        try:
            sender = contact.clean_work_phone(sender, client.default_country)
        except ValidationError:
            if not re.fullmatch(r"[A-Za-z0-9 ]{1,11}", sender):
                errors["sender"] = [
                    f"An SMS template sends from a phone number, a name of at most 11 letters "
                    f"and digits, or {WORKPHONE_TAG}."
                ]
    if not data.body.strip():
        errors["body"] = ["Enter the message text."]
    for fname, label, text in (
        ("subject", "The subject", data.subject),
        ("body", "The message", data.body),
    ):
        # A subject is one line of plain text; a message keeps its lines, and may need
        # bidi marks or emoji joiners, but no control characters.
        problems = check_text(text, label, line_breaks=fname == "body", formats=fname != "body")
        problems += check_template_text(text, label)
        if problems:
            errors.setdefault(fname, []).extend(problems)
    saved = TemplateFields(
        name=name,
        channel=data.channel,
        sender=sender,
        subject=data.subject.strip() if data.channel == "email" else "",
        body=data.body,
    )
    return saved, errors


def _sender_tag_for(method: str) -> tuple[str, str] | None:
    if method == MfaMethod.EMAIL:
        return Channel.EMAIL, EMAIL_TAG
    if method == MfaMethod.SMS:
        return Channel.SMS, WORKPHONE_TAG
    return None


def templates_sending_from(client: Client, mfa_method: str) -> list[MessageTemplate]:
    """Templates whose sender is the field this MFA method uses."""
    pair = _sender_tag_for(mfa_method)
    if pair is None:
        return []
    channel, tag = pair
    return list(MessageTemplate.objects.filter(client=client, channel=channel, sender=tag))


def user_template_warnings(client: Client, state: UserState, *, user_label: str) -> list[str]:
    """R5 on the user form: the MFA field is also a template's sender."""
    if state.level != Level.AGENT or not client.supports_mfa:
        return []
    templates = templates_sending_from(client, state.mfa_method)
    if not templates:
        return []
    field = _("Work phone") if state.mfa_method == MfaMethod.SMS else _("Email")
    names = _listing([f"\u201c{t.name}\u201d" for t in templates])
    values = {
        "user": user_label,
        "field": field,
        "method": MfaMethod(state.mfa_method).label,
        "names": names,
        "sender": templates[0].sender,
    }
    return [
        ngettext(
            "%(user)s uses the %(field)s field for %(method)s MFA, and the message template "
            "%(names)s sends from %(sender)s: customers would receive messages from the "
            "number or address that receives %(user)s's sign-in codes.",
            "%(user)s uses the %(field)s field for %(method)s MFA, and the message templates "
            "%(names)s send from %(sender)s: customers would receive messages from the "
            "number or address that receives %(user)s's sign-in codes.",
            len(templates),
        )
        % values
    ]


def template_warnings(template: MessageTemplate) -> list[str]:
    """R5 in the template editor: agents whose MFA field this template sends from."""
    senders: dict[tuple[str, str], str] = {
        (Channel.SMS, WORKPHONE_TAG): MfaMethod.SMS,
        (Channel.EMAIL, EMAIL_TAG): MfaMethod.EMAIL,
    }
    method = senders.get((template.channel, template.sender.strip()))
    if method is None or not template.client.supports_mfa:
        return []
    agents = User.objects.filter(
        client=template.client, level=Level.AGENT, is_active=True, mfa_method=method
    )
    count = agents.count()
    if not count:
        return []
    shown = [u.label for u in agents.order_by("full_name")[:10]]
    if count > 10:
        shown.append(ngettext("%(n)d more", "%(n)d more", count - 10) % {"n": count - 10})
    values = {
        "sender": template.sender,
        "field": _("Work phone") if method == MfaMethod.SMS else _("Email"),
        "agents": _listing(shown),
        "method": MfaMethod(method).label,
    }
    return [
        ngettext(
            "This template sends from %(sender)s, the %(field)s field that %(agents)s uses "
            "for %(method)s MFA. Customers would see the number or address that receives "
            "this agent's sign-in codes; consider a fixed sender.",
            "This template sends from %(sender)s, the %(field)s field that %(agents)s use "
            "for %(method)s MFA. Customers would see the number or address that receives "
            "those agents' sign-in codes; consider a fixed sender.",
            count,
        )
        % values
    ]


def template_tags(text: str) -> list[str]:
    return _TAG_RE.findall(text)


def check_template_text(text: str, field_label: str) -> list[str]:
    unknown = sorted({t for t in template_tags(text) if t not in TEMPLATE_TAGS})
    if not unknown:
        return []
    known = ", ".join(TEMPLATE_TAGS)
    return [f"{field_label} uses unknown tags {', '.join(unknown)}. Known tags: {known}."]


def render_template_text(text: str, agent: User) -> str:
    """Replace the tags with the agent's fields, as a sent message would show them."""

    def value(match: re.Match[str]) -> str:
        attr = TEMPLATE_TAGS.get(match.group(0))
        if attr is None:
            return match.group(0)
        raw = getattr(agent, attr)
        return contact.format_phone(raw) if attr == "work_phone" else raw

    return _TAG_RE.sub(value, text)
