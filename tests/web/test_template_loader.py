"""Templates are parsed once per process: Django's cached loader is on, for the pages and for
the form renderer's widget templates alike."""

from __future__ import annotations

from typing import Any

from django.forms.renderers import get_default_renderer
from django.template import engines
from django.template.loaders.cached import Loader as CachedLoader


def test_the_cached_template_loader_is_on() -> None:
    pages: Any = engines["django"]
    forms: Any = get_default_renderer()
    for backend in (pages, forms.engine):
        loaders = backend.engine.template_loaders
        assert loaders and all(isinstance(loader, CachedLoader) for loader in loaders)
