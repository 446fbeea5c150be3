"""`{% asset path %}` and `{% route name %}`: `{% static path %}` and `{% url name %}` (a name
without arguments), looked up once per process instead of on every page.

Each answer depends only on the settings, the URLconf, the script prefix and (for a
namespaced name) the current app, which are all in the cache's key; a test that changes the
settings empties the caches. The output is escaped as `{% static %}` and `{% url %}` do.

Both are nodes of their own rather than `simple_tag`s: with a quoted argument (every use in
the templates) the node keeps its escaped answer per key, so a page pays a dictionary look-up
for each link instead of resolving the argument, the cache's five-part key and the escaping
on every render (the sign-in pages draw eight of them per sign-in).
"""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()
_NOT_SET = object()
# Where a render keeps its key (in its render context, which its parent layout shares).
_ASSET_KEY = "deskgate_links.asset"
_ROUTE_KEY = "deskgate_links.route"


class _Generation:
    """Bumped when a setting changes: the nodes' kept answers are then forgotten."""

    value = 0


@functools.lru_cache(maxsize=256)
def _asset(prefix: str, path: str) -> str:
    return static(path)


@functools.lru_cache(maxsize=256)
def _route(urlconf: Any, root: str, prefix: str, current_app: str | None, name: str) -> str:
    return reverse(name, current_app=current_app)


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    _asset.cache_clear()
    _route.cache_clear()
    _Generation.value += 1


def _current_app(context: template.Context) -> str | None:
    """The current app as `{% url %}` takes it: the request's `current_app`, else the
    namespace of the URL it matched."""
    request = getattr(context, "request", None)
    current_app = getattr(request, "current_app", _NOT_SET)
    if current_app is _NOT_SET:
        current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
    return current_app  # type: ignore[return-value]


class _LinkNode(template.Node):
    """The escaped answer of one `{% asset %}` or `{% route %}`, kept per key when the
    argument is a quoted string."""

    def __init__(self, argument: template.base.FilterExpression) -> None:
        literal = not argument.is_var and not argument.filters and isinstance(argument.var, str)
        self.argument = argument
        self.literal: str | None = argument.var if literal else None
        self.kept: dict[tuple[Any, ...], str] = {}
        self.generation = _Generation.value

    def key(self, context: template.Context) -> tuple[Any, ...]:
        raise NotImplementedError

    def answer(self, context: template.Context, key: tuple[Any, ...], argument: str) -> str:
        raise NotImplementedError

    def render(self, context: template.Context) -> str:
        key = self.key(context)
        if self.literal is None:
            return self._escaped(context, self.answer(context, key, self.argument.resolve(context)))
        if self.generation != _Generation.value:
            self.kept = {}
            self.generation = _Generation.value
        full = (*key, context.autoescape)
        try:
            return self.kept[full]
        except KeyError:
            text = self._escaped(context, self.answer(context, key, self.literal))
            self.kept[full] = text
            return text

    @staticmethod
    def _escaped(context: template.Context, text: str) -> str:
        return conditional_escape(text) if context.autoescape else text


class _AssetNode(_LinkNode):
    def key(self, context: template.Context) -> tuple[Any, ...]:
        # Once per render (the render context is the page's, its parent layout's included):
        # the script prefix does not change while a page is drawn.
        key = context.render_context.get(_ASSET_KEY)
        if key is None:
            key = context.render_context[_ASSET_KEY] = (get_script_prefix(),)
        return key

    def answer(self, context: template.Context, key: tuple[Any, ...], argument: str) -> str:
        return _asset(key[0], argument)


class _RouteNode(_LinkNode):
    def key(self, context: template.Context) -> tuple[Any, ...]:
        key = context.render_context.get(_ROUTE_KEY)  # once per render, as the asset's
        if key is None:
            key = context.render_context[_ROUTE_KEY] = (
                get_urlconf(),
                settings.ROOT_URLCONF,
                get_script_prefix(),
                _current_app(context),
            )
        return key

    def answer(self, context: template.Context, key: tuple[Any, ...], argument: str) -> str:
        return _route(*key, argument)


def _argument(parser: template.base.Parser, token: template.base.Token) -> Any:
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(f"'{bits[0]}' takes one argument")
    return parser.compile_filter(bits[1])


@register.tag
def asset(parser: template.base.Parser, token: template.base.Token) -> _AssetNode:
    """`{% static path %}`."""
    return _AssetNode(_argument(parser, token))


@register.tag
def route(parser: template.base.Parser, token: template.base.Token) -> _RouteNode:
    """`{% url name %}` of a name without arguments, with the current app as the tag takes it."""
    return _RouteNode(_argument(parser, token))
