from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError


class Form(forms.Form):
    """Labels as the vendor spells them: no trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def add_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show an action's refusal on the fields it names (the rest above the form)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
