"""Reading rendered pages as a person would: visible text, a field and the error next to it.

Shared by the page tests under tests/web and tests/signin.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from deskgate.accounts.models import AuditEvent, Client, MessageTemplate, User

_FIELD_BLOCK = re.compile(r'<div class="field[^"]*">(.*?)</div>', re.S)
_ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
_TAGS = re.compile(r"<[^>]+>")
_CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
_USER_ROW = re.compile(r'<td><a href="/users/(\d+)/">(.*?)</a></td>')


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).split())


def content(response: Any) -> str:
    return response.content.decode()


def page_text(response: Any) -> str:
    """The page's visible text: tags removed, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", content(response), flags=re.S)
    return _plain(body)


def without_csrf(response: Any) -> str:
    """The body with the per-response CSRF token blanked, for comparing two answers."""
    return _CSRF_VALUE.sub('name="csrfmiddlewaretoken" value=""', content(response))


def field_block(response: Any, name: str) -> str:
    """The HTML of the labelled block that holds the control named `name`."""
    for block in _FIELD_BLOCK.findall(content(response)):
        if f'name="{name}"' in block:
            return block
    raise AssertionError(f"no field named {name!r} on the page")


def field_errors(response: Any, name: str) -> list[str]:
    """The error messages shown next to the field (inside its block)."""
    return [_plain(e) for e in _ERROR.findall(field_block(response, name))]


def form_errors_text(response: Any) -> str:
    """The text of the box above the form (non-field errors and "Nothing was saved")."""
    match = re.search(r'<div class="errors" role="alert"[^>]*>(.*?)</div>', content(response), re.S)
    return _plain(match.group(1)) if match else ""


def listed_users(response: Any) -> list[str]:
    """The Name column of the User list (or a fragment of it), top to bottom."""
    return [html.unescape(name) for _, name in _USER_ROW.findall(content(response))]


@dataclass
class Controls:
    """Form controls on a page: what a browser would submit, and what it shows."""

    values: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    options: dict[str, list[str]] = field(default_factory=dict)
    attrs: dict[str, dict[str, str]] = field(default_factory=dict)


class _ControlParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls = Controls()
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def _register(self, name: str, attrs: dict[str, str | None]) -> None:
        self.controls.attrs[name] = {k: v or "" for k, v in attrs.items()}
        if "disabled" in attrs:
            self.controls.disabled.add(name)

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        name = attrs.get("name") or ""
        if tag == "input" and name:
            self._register(name, attrs)
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.controls.values[name] = attrs.get("value") or "on"
            else:
                self.controls.values[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._register(name, attrs)
            self._select = name
            self._first_option = None
            self.controls.options[name] = []
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            self.controls.options[self._select].append(value)
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                self.controls.values[self._select] = value
        elif tag == "textarea" and name:
            self._register(name, attrs)
            self._textarea = name
            self.controls.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            # A browser shows (and submits) the first option when none is selected.
            if self._select not in self.controls.values and self._first_option is not None:
                self.controls.values[self._select] = self._first_option
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.controls.values[self._textarea] += data


def controls(response: Any) -> Controls:
    parser = _ControlParser()
    parser.feed(content(response))
    return parser.controls


def snapshot() -> dict[str, Any]:
    """Every row a refused write could have touched, to compare before and after."""
    return {
        "clients": list(Client.objects.order_by("pk").values()),
        "users": list(
            User.objects.order_by("pk").values(
                "pk",
                "client_id",
                "username",
                "full_name",
                "level",
                "is_active",
                "email",
                "work_phone",
                "mfa_method",
                "password",
                "must_change_password",
                "search_key",
                "updated_at",
            )
        ),
        "templates": list(MessageTemplate.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
    }
