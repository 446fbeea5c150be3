from django import template
from django.utils.translation import gettext_lazy as _

from deskgate.accounts.contact import format_phone
from deskgate.accounts.models import Level

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """An E.164 number grouped for reading."""
    return format_phone(value or "")


# A level named for the people in it ("Northwind requires managers to..."): its own words in
# each language, not the label with an English "s".
LEVEL_PLURALS = {
    Level.ADMIN: _("admins"),
    Level.MANAGER: _("managers"),
    Level.TEAM_LEADER: _("team leaders"),
    Level.AGENT: _("agents"),
}


@register.filter
def level_plural(value: str) -> str:
    """The people of a level, in the reader's language: "managers", "esihenkilöt"."""
    return str(LEVEL_PLURALS.get(value, value))
