"""The rules every write of a user or a template obeys (R1, R3, R4, R5).

`check_user` answers, for a proposed state of one user, what is wrong with it, keyed by
the form field to show it on. The actions call it inside the transaction that writes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from deskgate.accounts import contact
from deskgate.accounts.models import (
    EMAIL_REQUIRED_LEVELS,
    Channel,
    Client,
    Level,
    MessageTemplate,
    MfaMethod,
    User,
)

EMAIL_TAG = "{agent.email}"
WORKPHONE_TAG = "{agent.workphone}"
TEMPLATE_TAGS = {
    "{agent.name}": "full_name",
    "{agent.username}": "username",
    EMAIL_TAG: "email",
    WORKPHONE_TAG: "work_phone",
}
_TAG_RE = re.compile(r"\{[^{}\s]*\}")


@dataclass
class UserState:
    """A user's fields as they would be after a write (already cleaned)."""

    username: str
    full_name: str
    level: str
    is_active: bool
    email: str
    work_phone: str
    mfa_method: str

    @classmethod
    def of(cls, user: User) -> UserState:
        return cls(
            username=user.username,
            full_name=user.full_name,
            level=user.level,
            is_active=user.is_active,
            email=user.email,
            work_phone=user.work_phone,
            mfa_method=user.mfa_method,
        )


Errors = dict[str, list[str]]


def _names(users: Iterable[User]) -> str:
    return ", ".join(u.label for u in users)


def _others(client: Client, user_id: int | None):  # type: ignore[no-untyped-def]
    qs = User.objects.filter(client=client, is_active=True)
    return qs.exclude(pk=user_id) if user_id else qs


def sso_mandatory(client: Client) -> bool:
    """The client signs in only through SSO (its SSO settings say so)."""
    # Reverse one-to-one: no query when the client was loaded with select_related("sso").
    config = getattr(client, "sso", None)
    return bool(config is not None and config.mandatory)


def check_user(client: Client, state: UserState, *, user_id: int | None = None) -> Errors:
    """Every rule a user's state must meet; an empty answer means the write may go ahead."""
    errors: Errors = defaultdict(list)
    if not state.full_name.strip():
        errors["full_name"].append("Full name is mandatory.")
    if state.level not in Level.values:
        errors["level"].append("Choose a level: Admin, Manager, Team leader or Agent.")
    if state.level in EMAIL_REQUIRED_LEVELS and not state.email:
        errors["email"].append(f"Email is mandatory for a {Level(state.level).label.lower()}.")
    elif not state.email and sso_mandatory(client):
        errors["email"].append(
            f"Email is mandatory: {client.name} signs in through SSO, which finds users by Email."
        )
    if state.username:
        taken = User.objects.filter(username__iexact=state.username)
        if user_id:
            taken = taken.exclude(pk=user_id)
        if taken.exists():
            errors["username"].append(
                f"The user name {state.username} is already taken; user names are unique "
                "across the platform."
            )
    _check_mfa(client, state, errors)
    if state.is_active:
        _check_one_recipient(client, state, user_id, errors)
    return dict(errors)


def _check_mfa(client: Client, state: UserState, errors: Errors) -> None:
    method = state.mfa_method
    if method not in MfaMethod.values:
        errors["mfa_method"].append("Choose MFA Off, Email or SMS.")
        return
    if method == MfaMethod.OFF:
        return
    if not client.supports_mfa:  # R1
        errors["mfa_method"].append(client.mfa_unavailable_reason)
        return
    if method == MfaMethod.EMAIL and not state.email:  # R3
        errors["email"].append("Email MFA sends the code to the Email field: fill it in.")
    if method == MfaMethod.SMS:
        if not state.work_phone:
            errors["work_phone"].append(
                "SMS MFA sends the code to the Work phone field: fill in a mobile number."
            )
        elif not contact.is_mobile(state.work_phone):
            errors["work_phone"].append(
                f"{contact.format_phone(state.work_phone)} is not a mobile number, so it cannot "
                "receive an SMS code. Enter a mobile number or choose Email."
            )
        elif not client.sms_allowed_to(state.work_phone):
            errors["work_phone"].append(
                f"{client.name} sends SMS codes only to numbers in "
                f"{', '.join(client.sms_country_list)}; {contact.format_phone(state.work_phone)} "
                f"is a {contact.region_of(state.work_phone) or 'foreign'} number. Choose Email, "
                "or ask an admin to allow that country under Settings."
            )


def _check_one_recipient(
    client: Client, state: UserState, user_id: int | None, errors: Errors
) -> None:
    """R4 from both sides: this user's destination, and the destinations others use."""
    others = _others(client, user_id)
    if state.email:
        same_email = others.filter(email__iexact=state.email)
        if state.mfa_method == MfaMethod.EMAIL:
            clash = list(same_email[:5])
            if clash:
                errors["email"].append(
                    f"A code must reach exactly one person, but {state.email} is also the Email "
                    f"of {_names(clash)}. Give this user an address of their own, or choose SMS."
                )
        else:
            users = list(same_email.filter(mfa_method=MfaMethod.EMAIL)[:5])
            if users:
                errors["email"].append(
                    f"{state.email} receives the Email MFA codes of {_names(users)}; a code must "
                    "reach exactly one person. Use another address."
                )
    if state.work_phone:
        same_phone = others.filter(work_phone=state.work_phone)
        shown = contact.format_phone(state.work_phone)
        if state.mfa_method == MfaMethod.SMS:
            clash = list(same_phone[:5])
            if clash:
                errors["work_phone"].append(
                    f"A code must reach exactly one person, but {shown} is also the Work phone "
                    f"of {_names(clash)}. Give this user a number of their own, or choose Email."
                )
        else:
            users = list(same_phone.filter(mfa_method=MfaMethod.SMS)[:5])
            if users:
                errors["work_phone"].append(
                    f"{shown} receives the SMS MFA codes of {_names(users)}; a code must reach "
                    "exactly one person. Use another number."
                )


# --- R5: template tags read the very fields MFA uses -------------------------------------


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
    field = "Work phone" if state.mfa_method == MfaMethod.SMS else "Email"
    names = ", ".join(f"\u201c{t.name}\u201d" for t in templates)
    return [
        f"{user_label} uses the {field} field for {MfaMethod(state.mfa_method).label} MFA, and the "
        f"message templates {names} send from {templates[0].sender}: customers would receive "
        f"messages from the number or address that receives {user_label}'s sign-in codes."
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
    shown = _names(agents.order_by("full_name")[:10])
    more = f" and {count - 10} more" if count > 10 else ""
    field = "Work phone" if method == MfaMethod.SMS else "Email"
    return [
        f"This template sends from {template.sender}, the {field} field that {shown}{more} use "
        f"for {MfaMethod(method).label} MFA. Customers would see the number or address that "
        "receives those agents' sign-in codes; consider a fixed sender."
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


def users_matching(client: Client, query: str) -> Q:
    """The User list search condition: name, user name, email or phone, as typed."""
    q = " ".join(query.split()).casefold()
    digits = "".join(ch for ch in q if ch.isdigit())
    cond = Q(search_key__contains=q)
    if digits and len(digits) >= 3 and all(ch.isdigit() or ch in " +-()" for ch in q):
        # Typed nationally ("040 123 4567"): the stored number has the country code instead.
        cond |= Q(search_key__contains=digits) | Q(search_key__contains=digits.lstrip("0"))
    return cond
