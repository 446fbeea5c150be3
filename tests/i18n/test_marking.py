"""Every user-visible text is marked for translation, and both catalogues hold every string.

Fails when a template has text outside {% translate %}/{% blocktranslate %} (attribute values
such as aria-label, title, placeholder and alt included), when a form's label, help text or
a rule's message is a plain string, when a page message is a raw string, and when the Finnish
or Swedish catalogue lacks a string or has a fuzzy or empty entry.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.utils.functional import Promise

import deskgate
from deskgate.accounts import rules
from deskgate.accounts.models import LEVEL_PLURALS, AuditAction, Level, MfaMethod
from tests.harness.source import parse

SRC = Path(deskgate.__file__).parent
LOCALE = SRC / "locale"
LANGUAGES = ("fi", "sv")

# Words that stay as they are in every language (the product's name).
ALLOWED_WORDS = {"Deskgate"}
CHECKED_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")
HOLE = "\x00"  # where a template tag or variable stood


def templates() -> list[Path]:
    return sorted(SRC.glob("**/templates/**/*.html"))


def unmarked_text(source: str) -> list[str]:
    """The texts of a template that a reader sees and no translate tag covers."""
    pieces: list[str] = []
    skipping: str | None = None  # the end tag of a blocktranslate or comment being skipped
    for token in Lexer(source).tokenize():
        content = token.contents.strip()
        if skipping:
            if token.token_type == TokenType.BLOCK and content.split()[:1] == [skipping]:
                skipping = None
                pieces.append(HOLE)
            continue
        if token.token_type == TokenType.BLOCK:
            name = content.split()[0] if content else ""
            if name in ("blocktranslate", "blocktrans"):
                skipping = "end" + name
            elif name == "comment":
                skipping = "endcomment"
            pieces.append(HOLE)
        elif token.token_type == TokenType.TEXT:
            pieces.append(token.contents)
        else:
            pieces.append(HOLE)
    text = "".join(pieces)
    found = [
        f'{name}="{value}"'
        for name, value in re.findall(rf'({"|".join(CHECKED_ATTRIBUTES)})="([^"]*)"', text)
        if HOLE not in value and re.search(r"[A-Za-z]", value)
    ]
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)  # tags, their attributes and holes inside them
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    found += [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in ALLOWED_WORDS]
    return found


def test_the_template_check_finds_unmarked_text() -> None:
    assert unmarked_text('<p>{% translate "Save" %}</p>') == []
    assert unmarked_text("<p>Save</p>") == ["Save"]
    assert unmarked_text('<nav aria-label="Main"></nav>') == ['aria-label="Main"']
    assert unmarked_text('<nav aria-label="{% translate "Main" %}"></nav>') == []
    assert unmarked_text("{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}") == []
    assert unmarked_text("{% comment %}Notes{% endcomment %}<b>{{ name }}</b>") == []


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(SRC)))
def test_every_template_text_is_marked(path: Path) -> None:
    assert unmarked_text(path.read_text(encoding="utf-8")) == []


def _form_classes() -> list[type[forms.Form]]:
    from deskgate.signin import forms as signin_forms
    from deskgate.sso import views as sso_views
    from deskgate.web import forms as web_forms
    from deskgate.web.views import account, api_tokens, sso_admin

    found = []
    for module in (signin_forms, web_forms, sso_views, account, api_tokens, sso_admin):
        for value in vars(module).values():
            own = isinstance(value, type) and value.__module__ == module.__name__
            if own and issubclass(value, forms.Form):
                found.append(value)
    return found


def test_forms_labels_and_help_are_lazy_translations() -> None:
    plain = []
    for form in _form_classes():
        for name, field in form.base_fields.items():
            for what in ("label", "help_text"):
                value = getattr(field, what)
                if value and not isinstance(value, Promise):
                    plain.append(f"{form.__name__}.{name}.{what}: {value!r}")
            for key, message in field.error_messages.items():
                if key in field.__class__.default_error_messages:
                    continue  # Django's own, translated by Django
                if not isinstance(message, Promise):
                    plain.append(f"{form.__name__}.{name} error {key}: {message!r}")
    assert plain == []
    assert len(_form_classes()) >= 10


def test_rules_messages_and_choices_are_lazy_translations() -> None:
    from deskgate.delivery.caps import SCOPE_MESSAGES

    values = [
        *rules.OWN_SIGN_IN_SETTINGS.values(),
        rules.NOT_ON_ONESELF_HERE,
        *SCOPE_MESSAGES.values(),
        *LEVEL_PLURALS.values(),
        *(label for _value, label in Level.choices),
        *(label for _value, label in MfaMethod.choices),
        *(label for _value, label in AuditAction.choices),
    ]
    assert [v for v in values if not isinstance(v, Promise)] == []


MESSAGE_CALLS = {"success", "error", "info", "warning"}


def _raw_messages(path: Path) -> list[str]:
    """messages.success(request, "...") and add_error(field, "...") with a raw string, and
    label=/help_text= given one."""
    tree = parse(path.read_text(encoding="utf-8"))
    raw = []
    for node in ast.walk(tree):
        is_text = isinstance(getattr(node, "value", None), ast.Constant | ast.JoinedStr)
        if isinstance(node, ast.keyword) and node.arg in ("label", "help_text") and is_text:
            raw.append(f"{path.name}:{node.value.lineno} {node.arg}=")
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        is_message = (
            isinstance(func.value, ast.Name)
            and func.value.id == "messages"
            and func.attr in MESSAGE_CALLS
        )
        second = node.args[1] if len(node.args) >= 2 else None
        if (is_message or func.attr == "add_error") and isinstance(
            second, ast.Constant | ast.JoinedStr
        ):
            raw.append(f"{path.name}:{node.lineno} {func.attr}")
    return raw


def test_no_page_message_is_a_raw_string() -> None:
    # Migrations keep the strings the models had when they were written; a model field's
    # help_text is read by developers only (no Django admin: the forms have their own).
    modules = [
        p
        for p in sorted(SRC.rglob("*.py"))
        if "migrations" not in p.parts and p.name != "models.py"
    ]
    raw = [hit for path in modules for hit in _raw_messages(path)]
    assert raw == []


def test_the_python_check_finds_raw_messages(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text(
        'messages.success(request, "Saved.")\n'
        'messages.error(request, f"{x} failed")\n'
        'messages.info(request, gettext("Fine."))\n'
        'form.add_error("code", "Wrong.")\n'
        'forms.CharField(label="Name")\n'
    )
    assert len(_raw_messages(module)) == 4


# --- Catalogues ---------------------------------------------------------------------


def _unquote(line: str) -> str:
    return ast.literal_eval(line)


def read_po(path: Path) -> dict[tuple[str | None, str, str | None], dict[str, Any]]:
    """(msgctxt, msgid, msgid_plural) -> {"strs": [...], "fuzzy": bool}, header left out."""
    entries: dict[tuple[str | None, str, str | None], dict[str, Any]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        fuzzy = False
        for line in block.splitlines():
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if line.startswith("#") or not line.strip():
                continue
            match = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                current = match.group(1)
                fields[current] = _unquote(match.group(2))
            else:
                fields[current] += _unquote(line)
        if "msgid" not in fields or fields["msgid"] == "":
            continue
        key = (fields.get("msgctxt"), fields["msgid"], fields.get("msgid_plural"))
        strs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        entries[key] = {"strs": strs, "fuzzy": fuzzy}
    return entries


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str | None, str, str | None]]:
    """The strings the code and templates mark today: makemessages over a copy of the tree."""
    root = tmp_path_factory.mktemp("messages") / "deskgate"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("locale", "__pycache__", "*.mo"))
    (root / "locale").mkdir()
    import os

    here = os.getcwd()
    os.chdir(root)
    try:
        call_command("makemessages", locale=["fi"], no_location=True, verbosity=0)
    finally:
        os.chdir(here)
    return set(read_po(root / "locale" / "fi" / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_holds_every_string_translated(extracted, language: str) -> None:
    committed = read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
    missing = sorted(extracted - set(committed), key=str)
    assert missing == [], f"run `make messages` and translate these into {language}"
    fuzzy = [key for key, entry in committed.items() if entry["fuzzy"]]
    empty = [key for key, entry in committed.items() if not all(entry["strs"])]
    assert fuzzy == [] and empty == []
    assert len(extracted) > 400


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_says_how_plurals_work(language: str) -> None:
    header = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert f'"Language: {language}\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
