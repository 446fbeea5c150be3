"""`{% asset %}` and `{% route %}` answer what `{% static %}` and `{% url %}` answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import engines
from django.test import RequestFactory, override_settings
from django.urls import resolve, set_script_prefix

NAMES = ["home", "signin:password", "signin:passkey", "sso:choose", "user_list", "account"]


def _both(source_ours: str, source_django: str, request: object = None) -> tuple[str, str]:
    engine = engines["django"]
    ours = engine.from_string("{% load deskgate_links %}" + source_ours)
    djangos = engine.from_string("{% load static %}" + source_django)
    return ours.render({}, request), djangos.render({}, request)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["/", "/deskgate/"])
def test_route_is_url_and_asset_is_static(prefix: str) -> None:
    request = RequestFactory().get("/signin/")
    request.resolver_match = resolve("/signin/")
    set_script_prefix(prefix)
    try:
        for name in NAMES:
            for on_a_page in (request, None):  # the current app taken from the request
                ours, djangos = _both(f"{{% route '{name}' %}}", f"{{% url '{name}' %}}", on_a_page)
                assert ours == djangos and ours.startswith(prefix), name
        for path in ["deskgate/deskgate.css", "deskgate/a b&c.js"]:
            ours, djangos = _both(f"{{% asset '{path}' %}}", f"{{% static '{path}' %}}")
            assert ours == djangos
    finally:
        set_script_prefix("/")


def test_changed_settings_are_seen() -> None:
    before = _both("{% asset 'deskgate/deskgate.css' %}", "")[0]
    with override_settings(STATIC_URL="/elsewhere/"):
        ours, djangos = _both(
            "{% asset 'deskgate/deskgate.css' %}", "{% static 'deskgate/deskgate.css' %}"
        )
        assert ours == djangos == "/elsewhere/deskgate/deskgate.css"
    assert _both("{% asset 'deskgate/deskgate.css' %}", "")[0] == before


def test_an_unknown_name_fails_as_url_does() -> None:
    from django.urls import NoReverseMatch

    with pytest.raises(NoReverseMatch):
        _both("{% route 'no_such_page' %}", "")


def test_a_name_from_a_variable_is_looked_up_on_each_render() -> None:
    engine = engines["django"]
    ours = engine.from_string("{% load deskgate_links %}{% route name %}|{% asset path %}")
    djangos = engine.from_string("{% load static %}{% url name %}|{% static path %}")
    for name, path in [("home", "deskgate/a b&c.js"), ("sso:choose", "deskgate/deskgate.css")]:
        context = {"name": name, "path": path}
        assert ours.render(context) == djangos.render(context)


def test_a_quoted_argument_is_answered_from_what_the_node_keeps() -> None:
    engine = engines["django"]
    ours: Any = engine.from_string("{% load deskgate_links %}{% route 'home' %}{% asset 'a.css' %}")
    first = ours.render({})
    nodes = [node for node in ours.template.nodelist if hasattr(node, "kept")]
    assert len(nodes) == 2 and all(node.literal and len(node.kept) == 1 for node in nodes)
    assert ours.render({}) == first
