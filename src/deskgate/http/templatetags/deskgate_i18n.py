"""`{% translate %}` and `{% blocktranslate %}` as Django's i18n library has them, with each
use that has nothing but a quoted text (no variable, filter, context, plural or `as`) kept per
language once translated: the page then pays one look-up of the active language and a
dictionary's, instead of a lazy translation, its escaping and the catalogue's look-up, on
every render. Any other use is Django's own node, unchanged.

Loaded after `i18n` (`{% load i18n deskgate_i18n %}`), these tags take the place of Django's
in that template. The tags keep their names, so `make messages` (Django's makemessages)
finds the texts as before. A test that changes the settings (LANGUAGES, LOCALE_PATHS...)
empties what the nodes keep, as Django's own translations are reloaded then.
tests/web/test_template_i18n.py compares both with Django's tags in every language.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.base import TokenType, Variable
from django.templatetags import i18n
from django.utils import translation

register = template.Library()


class _Generation:
    """Bumped when a setting changes: the nodes' kept texts are then forgotten."""

    value = 0


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    _Generation.value += 1


class PerLanguageNode(template.Node):
    """Django's node, rendered once per active language (and autoescaping) and kept."""

    child_nodelists = ()

    def __init__(self, node: template.Node) -> None:
        self.node = node
        self.kept: dict[tuple[str | None, bool], str] = {}
        self.generation = _Generation.value

    def __repr__(self) -> str:
        return f"<{self.__class__.__qualname__}: {self.node!r}>"

    def render(self, context: template.Context) -> str:
        if self.generation != _Generation.value:
            self.kept = {}
            self.generation = _Generation.value
        key = (translation.get_language(), context.autoescape)
        try:
            return self.kept[key]
        except KeyError:
            text = self.kept[key] = self.node.render(context)
            return text


def _constant_translate(node: i18n.TranslateNode) -> bool:
    var = node.filter_expression.var
    return (
        not node.noop
        and node.asvar is None
        and node.message_context is None
        and not node.filter_expression.filters
        and isinstance(var, Variable)
        and var.lookups is None
        and isinstance(var.literal, str)
    )


def _constant_blocktranslate(node: i18n.BlockTranslateNode) -> bool:
    return (
        not node.extra_context
        and not node.plural
        and node.counter is None
        and node.message_context is None
        and node.asvar is None
        and all(token.token_type == TokenType.TEXT for token in node.singular)
    )


@register.tag("translate")
@register.tag("trans")
def do_translate(parser: template.base.Parser, token: template.base.Token) -> template.Node:
    node = i18n.do_translate(parser, token)
    return PerLanguageNode(node) if _constant_translate(node) else node


@register.tag("blocktranslate")
@register.tag("blocktrans")
def do_block_translate(parser: template.base.Parser, token: template.base.Token) -> template.Node:
    node = i18n.do_block_translate(parser, token)
    return PerLanguageNode(node) if _constant_blocktranslate(node) else node
