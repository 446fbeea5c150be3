from django import template

from deskgate.accounts.contact import format_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """An E.164 number grouped for reading."""
    return format_phone(value or "")
