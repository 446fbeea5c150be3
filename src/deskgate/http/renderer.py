"""Django's form renderer, with its plainest templates (a label, an `<input>`) written out
in Python: the same HTML, a fraction of the template engine's cost on every form page.

Django builds the context as always (the widget's attributes, `aria-describedby`,
`aria-invalid`, `required`, the value, the label's `for`); only the last step, turning that
context into text, is done here instead of through `django/forms/widgets/input.html`,
`attrs.html` and `label.html`. A template is done here only while the engine would load
Django's own file with the source this module expects (checked once per template name);
any other template, or an app's override of one of these, goes through the engine as
before. tests/web/test_form_renderer.py compares the two on the project's forms.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import SafeData

_DJANGO_TEMPLATES = Path(django.forms.__file__).resolve().parent / "templates"
_INCLUDE_INPUT = '{% include "django/forms/widgets/input.html" %}\n'
_ATTRS_LOOP = (
    "{% for name, value in %s.items %}{% if value is not False %} {{ name }}"
    "{% if value is not True %}=\"{{ value|stringformat:'s' }}\"{% endif %}{% endif %}"
    "{% endfor %}"
)
# The templates written out below, with the source each must have to be written out here.
LABEL = "django/forms/label.html"
_EXPECTED: dict[str, str] = {
    "django/forms/widgets/input.html": (
        '<input type="{{ widget.type }}" name="{{ widget.name }}"'
        "{% if widget.value != None %} value=\"{{ widget.value|stringformat:'s' }}\""
        '{% endif %}{% include "django/forms/widgets/attrs.html" %}>\n'
    ),
    "django/forms/widgets/attrs.html": _ATTRS_LOOP.replace("%s", "widget.attrs"),
    "django/forms/attrs.html": _ATTRS_LOOP.replace("%s", "attrs"),
    LABEL: (
        "{% if use_tag %}<{{ tag }}{% include 'django/forms/attrs.html' %}>{{ label }}"
        "</{{ tag }}>{% else %}{{ label }}{% endif %}\n"
    ),
}
INPUTS = frozenset(
    f"django/forms/widgets/{kind}.html"
    for kind in (
        "text",
        "password",
        "email",
        "number",
        "url",
        "hidden",
        "checkbox",
        "date",
        "datetime",
        "time",
        "search",
        "tel",
        "color",
    )
)


def _text(value: Any) -> str:
    """`{{ value }}` of a string in an autoescaping template (Django's `conditional_escape`
    without its lazy-string wrapper: the same characters escaped)."""
    text = value if isinstance(value, str) else str(value)
    return text if isinstance(text, SafeData) else html.escape(text)


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: safe text stays as it is, the rest is escaped."""
    text = str(value) if isinstance(value, tuple) else "%s" % (value,)  # noqa: UP031  # as the filter
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs: dict[str, Any] | None) -> str:
    """`django/forms/attrs.html`: ` name="value"`, a bare ` name` for True, nothing for False."""
    parts = []
    for name, value in (attrs or {}).items():
        if value is False:
            continue
        parts.append(
            f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"'
        )
    return "".join(parts)


def _plain(attrs: dict[str, Any] | None) -> bool:
    """No attribute a template would call (the engine calls callables it looks up)."""
    return not any(callable(value) for value in (attrs or {}).values())


class FormRenderer(DjangoTemplates):
    """FORM_RENDERER: Django's template renderer, labels and inputs written out directly."""

    def __init__(self) -> None:
        super().__init__()
        self._own: dict[str, bool] = {}

    def _is_djangos(self, template_name: str) -> bool:
        """Would the engine load Django's own file, unchanged, for this name (and for the
        templates it includes)?"""
        known = self._own.get(template_name)
        if known is None:
            names = [template_name]
            if template_name in INPUTS:
                names += ["django/forms/widgets/input.html", "django/forms/widgets/attrs.html"]
            elif template_name == LABEL:
                names.append("django/forms/attrs.html")
            known = all(self._source_is(name) for name in names)
            self._own[template_name] = known
        return known

    def _source_is(self, name: str) -> bool:
        origin = self.get_template(name).template.origin
        if Path(origin.name).resolve() != _DJANGO_TEMPLATES / name:
            return False
        expected = _INCLUDE_INPUT if name in INPUTS else _EXPECTED[name]
        return Path(origin.name).read_text(encoding="utf-8") == expected

    def render(self, template_name: str, context: Any, request: Any = None) -> str:
        if template_name in INPUTS and self._is_djangos(template_name):
            widget = context["widget"]
            if _plain(widget["attrs"]) and not callable(widget["value"]):
                return self._input(widget)
        elif (
            template_name == LABEL
            and self._is_djangos(template_name)
            and _plain(context.get("attrs"))
            and not callable(context.get("label"))
        ):
            return self._label(context)
        return str(super().render(template_name, context, request))

    @staticmethod
    def _input(widget: dict[str, Any]) -> str:
        value = widget["value"]
        shown = f' value="{_formatted(value)}"' if value is not None else ""
        return (
            f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
            f"{shown}{_attrs(widget['attrs'])}>"
        )

    @staticmethod
    def _label(context: dict[str, Any]) -> str:
        label = _text(context.get("label", ""))
        if not context.get("use_tag"):
            return label.strip()
        tag = _text(context.get("tag", ""))
        return f"<{tag}{_attrs(context.get('attrs'))}>{label}</{tag}>".strip()
