"""The audit trail's filters as an admin types them: dates in the viewer's time zone, an
event from the list, parts of names. Turned into the shared `AuditFilter`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deskgate.accounts.audit_filters import TEXT_MAX, AuditFilter, clean_text
from deskgate.accounts.models import AuditAction, User
from deskgate.http.forms import Form

DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]  # ISO, and as Finns and Swedes write it
DATE_INVALID = _("Enter a date such as 2026-11-30.")
YEARS = (1970, 9000)


def _text_field(label: Any, help_text: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=TEXT_MAX,
        help_text=help_text,
        error_messages={"max_length": _("Type at most %(limit_value)d characters.")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _date_field(label: Any) -> forms.DateField:
    # A text box, not type=date: a browser empties a date box holding an impossible date,
    # and the page keeps what was typed beside the message saying what is wrong with it.
    return forms.DateField(
        label=label,
        required=False,
        input_formats=DATE_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD", "autocomplete": "off"}),
    )


class AuditFilterForm(Form):
    subject = _text_field(_("User"), _("Part of the name or user name of whom it concerns"))
    actor = _text_field(_("Done by"), _("Part of a name, or API token"))
    action = forms.ChoiceField(
        label=_("Event"),
        required=False,
        choices=[("", _("Any event")), *AuditAction.choices],
        error_messages={
            "invalid_choice": _("There is no event %(value)s; choose one from the list.")
        },
    )
    since = _date_field(_("From"))
    until = _date_field(_("To"))
    q = _text_field(_("Search"), _("Words of the event, a name, or an address it came from"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("since", "until"):
            day = data.get(name)
            # Years a trail can hold; far ones would overflow turning into a moment.
            if day is not None and not YEARS[0] <= day.year <= YEARS[1]:
                self.add_error(name, DATE_INVALID)
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("To is before From: swap the dates."))
        return data

    def to_filter(self, subject: User | None) -> AuditFilter:
        """The shared filter, days turned into moments in the viewer's time zone: From is
        the start of its day, To the end of its day."""
        data = self.cleaned_data
        return AuditFilter(
            subject=subject,
            subject_text=clean_text(data.get("subject") or ""),
            actor_text=clean_text(data.get("actor") or ""),
            action=data.get("action") or "",
            since=_start_of(data.get("since")),
            until=_start_of(data["until"] + timedelta(days=1)) if data.get("until") else None,
            text=clean_text(data.get("q") or ""),
        )


def _start_of(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))
