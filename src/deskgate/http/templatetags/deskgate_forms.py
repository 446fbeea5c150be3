"""`{% field form.name %}`: a form field in its labelled block, as `http/_field.html` shows it.

The label, the control, the help text and the errors, with the ids Django's widgets name in
`aria-describedby` (`<id>_helptext`, `<id>_error`). Written out here rather than as a
template included per field: the sign-in pages draw it on every sign-in.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def field(bound: BoundField | str) -> SafeString:
    if not isinstance(bound, BoundField):  # no such field: an empty block, as the partial drew
        return mark_safe('<div class="field">\n  \n  \n  \n  \n</div>')
    errors = bound.errors
    help_text = bound.help_text
    auto_id = conditional_escape(bound.auto_id)
    help_html = (
        f'<p class="help" id="{auto_id}_helptext">{conditional_escape(help_text)}</p>'
        if help_text
        else ""
    )
    errors_html = (
        f'<div id="{auto_id}_error">'
        + "".join(f'<p class="error" role="alert">{conditional_escape(str(e))}</p>' for e in errors)
        + "</div>"
        if errors
        else ""
    )
    return mark_safe(  # noqa: S308  # every part above is escaped or Django's safe markup
        f'<div class="field{" invalid" if errors else ""}">\n'
        f"  {conditional_escape(bound.label_tag())}\n"
        f"  {conditional_escape(str(bound))}\n"
        f"  {help_html}\n"
        f"  {errors_html}\n"
        "</div>"
    )
