from __future__ import annotations

from typing import Any

from django import forms


class Form(forms.Form):
    """Labels as the vendor spells them: no trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
