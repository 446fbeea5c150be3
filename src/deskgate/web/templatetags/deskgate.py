from django import template

from deskgate.accounts.contact import format_phone
from deskgate.accounts.models import LEVEL_PLURALS

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """An E.164 number grouped for reading."""
    return format_phone(value or "")


@register.filter
def level_plural(value: str) -> str:
    """The people of a level, in the reader's language: "managers", "esihenkilöt"."""
    return str(LEVEL_PLURALS.get(value, value))
