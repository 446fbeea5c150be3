"""The repository's own documents point only at what a reader of the repository has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.harness.source import parse

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
# A backticked path into the repository: `src/deskgate/conf.py`, `tests/security/`, `docs/rules.md`.
PATH = re.compile(r"`((?:\.\./|\.ci/|src/|tests/|bench/|docs/|scripts/)[^`\s]*|[\w.-]+\.md)`")
# Where a module's docstring speaks of a door, the door's package must exist.
DOORS = {
    "JSON API": "src/deskgate/api",
    "REST API": "src/deskgate/api",
    "SCIM": "src/deskgate/scim",
    "OpenID Provider": "src/deskgate/provider",
}


def _paths(doc: Path) -> list[str]:
    found = PATH.findall(doc.read_text(encoding="utf-8"))
    # `tests/x.py::test_name` names a test in a file: the file must exist.
    return [m.split("::")[0] for m in found if not set(m) & set("<>*$")]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_document_names_is_in_the_repository(doc: Path) -> None:
    missing = [p for p in _paths(doc) if p.startswith("../") or not (ROOT / p).exists()]
    assert not missing, f"{doc.name} names paths a reader of the repository does not have"


def test_the_rules_are_stated_in_the_repository() -> None:
    rules = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    stated = re.findall(r"^- \*\*(R\d+) ", rules, flags=re.MULTILINE)
    assert stated == [f"R{n}" for n in range(1, 11)]
    assert "docs/rules.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_docstrings_promise_only_doors_that_exist() -> None:
    promised = []
    for module in sorted((ROOT / "src" / "deskgate").rglob("*.py")):
        doc = ast.get_docstring(parse(module.read_text(encoding="utf-8"))) or ""
        promised += [
            f"{module.relative_to(ROOT)}: {door}"
            for door, package in DOORS.items()
            if door in doc and not (ROOT / package).is_dir()
        ]
    assert not promised


def test_the_readme_shows_the_permission_table_of_the_code() -> None:
    """README's "Who may do what" is the action layer's table, row for row: it cannot drift."""
    from django.utils import translation

    from deskgate.accounts import permissions

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(
        r"<!-- permission-table:start -->\n(.*?)\n<!-- permission-table:end -->", text, re.S
    )
    assert shown, "README lost its permission table"
    with translation.override("en"):
        assert shown.group(1).strip() == permissions.markdown_table()
