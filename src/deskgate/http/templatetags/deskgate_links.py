"""`{% asset path %}` and `{% route name %}`: `{% static path %}` and `{% url name %}` (a name
without arguments), looked up once per process instead of on every page.

Each answer depends only on the settings, the URLconf, the script prefix and (for a
namespaced name) the current app, which are all in the cache's key; a test that changes the
settings empties the caches. The output is escaped as `{% static %}` and `{% url %}` do.
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

register = template.Library()


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


@register.simple_tag
def asset(path: str) -> str:
    """`{% static path %}`."""
    return _asset(get_script_prefix(), path)


@register.simple_tag(takes_context=True)
def route(context: template.Context, name: str) -> str:
    """`{% url name %}` of a name without arguments, with the current app as the tag takes it."""
    request = getattr(context, "request", None)
    try:
        current_app = request.current_app  # type: ignore[union-attr]
    except AttributeError:
        try:
            current_app = request.resolver_match.namespace  # type: ignore[union-attr]
        except AttributeError:
            current_app = None
    return _route(get_urlconf(), settings.ROOT_URLCONF, get_script_prefix(), current_app, name)
