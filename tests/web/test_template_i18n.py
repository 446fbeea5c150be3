"""`{% load i18n deskgate_i18n %}`: `translate` and `blocktranslate` answer what Django's own
tags answer, in every language, with the texts they keep per language forgotten when the
settings change."""

from __future__ import annotations

import pytest
from django.template import engines
from django.test import override_settings
from django.utils import translation

from deskgate.http.templatetags.deskgate_i18n import PerLanguageNode

SOURCES = [
    '{% translate "Sign in" %}',
    "{% trans 'Continue' %}",
    '{% translate "Sign in" as title %}[{{ title }}]',
    '{% translate "Sign in" noop %}',
    '{% translate "May" context "month name" %}',
    "{% translate word %}",
    '{% translate "Sign in"|upper %}',
    '{% translate "a <b> & 100%" %}',
    "{% blocktranslate trimmed %}Or sign in with a passkey, no user name or password:"
    ' <button type="submit">Use a passkey</button>{% endblocktranslate %}',
    "{% blocktrans %}Resend code{% endblocktrans %}",
    "{% blocktranslate with seconds=wait %}You can ask for a new code in {{ seconds }} s."
    "{% endblocktranslate %}",
    "{% blocktranslate count minutes=wait %}{{ minutes }} minute{% plural %}"
    "{{ minutes }} minutes{% endblocktranslate %}",
    "{% blocktranslate %}a <b> & 100% {{ word }}{% endblocktranslate %}",
]


def _pair(source: str) -> tuple[object, object]:
    engine = engines["django"]
    return (
        engine.from_string("{% load i18n deskgate_i18n %}" + source),
        engine.from_string("{% load i18n %}" + source),
    )


@pytest.mark.parametrize("source", SOURCES)
def test_the_same_text_as_djangos_tags(source: str) -> None:
    ours, djangos = _pair(source)
    for autoescape in (True, False):
        for language in ("en", "fi", "sv", "en", "fi"):  # the second time from what was kept
            with translation.override(language):
                context = {"word": "<Sign in>", "wait": 3}
                if not autoescape:
                    ours, djangos = _pair("{% autoescape off %}" + source + "{% endautoescape %}")
                assert ours.render(context) == djangos.render(context), (language, source)  # type: ignore[attr-defined]


def test_only_texts_without_variables_are_kept() -> None:
    ours, _ = _pair(SOURCES[0] + SOURCES[2] + SOURCES[5] + SOURCES[8] + SOURCES[10])
    nodes = ours.template.nodelist  # type: ignore[attr-defined]
    kept = [node for node in nodes if isinstance(node, PerLanguageNode)]
    assert len(kept) == 2


def test_the_pages_are_in_finnish_and_swedish() -> None:
    ours, _ = _pair('{% translate "Sign in" %}|{% translate "Skip to main content" %}')
    with translation.override("en"):
        english = ours.render({})  # type: ignore[attr-defined]
    for language in ("fi", "sv"):
        with translation.override(language):
            assert ours.render({}) != english  # type: ignore[attr-defined]


def test_changed_settings_are_seen() -> None:
    ours, _ = _pair('{% translate "Sign in" %}')
    with translation.override("fi"):
        finnish = ours.render({})  # type: ignore[attr-defined]
    assert finnish != "Sign in"
    (node,) = ours.template.nodelist.get_nodes_by_type(PerLanguageNode)  # type: ignore[attr-defined]
    node.kept[("fi", True)] = "stale"  # as a catalogue changed by a setting would leave it
    with override_settings(LOCALE_PATHS=[]):
        pass
    with translation.override("fi"):
        assert ours.render({}) == finnish  # type: ignore[attr-defined]
