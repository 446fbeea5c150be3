"""Audit actions are names, not strings: every writer passes an AuditAction member, every
member is written somewhere, and the tests ask only for actions that exist.

The checks read the source (ast), so they cover branches no other test reaches, such as
a failed send or a refused reset.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskgate.accounts.models import AuditAction, AuditEvent
from tests.harness.source import parse

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "deskgate"
TESTS = ROOT / "tests"
# Where the names are defined, and where record() hands its argument on to build().
DEFINES = SRC / "accounts" / "models.py"
AUDIT = SRC / "accounts" / "audit.py"
WRITERS = {"record", "build"}


def modules(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, parse(path.read_text(), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def audit_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls of audit.record(...) and audit.build(...)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITERS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "audit"
        ):
            yield node


def action_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "action"), None)


def member_names(node: ast.expr) -> list[str] | None:
    """The members an action argument can be; None when it is not AuditAction.NAME
    (or a conditional choosing between such names)."""
    if isinstance(node, ast.IfExp):
        body, orelse = member_names(node.body), member_names(node.orelse)
        return None if body is None or orelse is None else body + orelse
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name | ast.Attribute)
        and (node.value.id if isinstance(node.value, ast.Name) else node.value.attr)
        == "AuditAction"
    ):
        return [node.attr]
    return None


def member_references(tree: ast.Module) -> Iterator[tuple[ast.Attribute, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if owner == "AuditAction" and node.attr not in ENUM_API:
                yield node, node.attr


SOURCE = list(modules(SRC))
# What TextChoices itself offers (AuditAction.values: every action's value), not a member.
ENUM_API = {"values", "labels", "choices", "names"}


def test_the_scan_finds_the_writers() -> None:
    # A scan that finds nothing proves nothing: there are dozens of writers.
    assert sum(1 for _, tree in SOURCE for _ in audit_calls(tree)) >= 30


def test_every_audit_writer_passes_an_audit_action_by_name() -> None:
    wrong = []
    for path, tree in SOURCE:
        for call in audit_calls(tree):
            argument = action_argument(call)
            names = member_names(argument) if argument is not None else None
            if names is None:
                shown = ast.unparse(argument) if argument is not None else "nothing"
                wrong.append(f"{where(path, call)} passes {shown}")
            else:
                wrong += [
                    f"{where(path, call)}: AuditAction has no {name}"
                    for name in names
                    if name not in AuditAction.__members__
                ]
    assert wrong == []


def test_no_module_spells_an_audit_action_as_a_string() -> None:
    values = set(AuditAction.values)
    spelled = [
        f"{where(path, node)} spells {node.value!r}"
        for path, tree in SOURCE
        if path != DEFINES
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in values
    ]
    assert spelled == []


def test_every_audit_action_is_recorded_somewhere() -> None:
    used = {
        name
        for path, tree in SOURCE
        if path not in (DEFINES, AUDIT)
        for _, name in member_references(tree)
    }
    assert sorted(set(AuditAction.__members__) - used) == [], "names nothing records"
    assert sorted(used - set(AuditAction.__members__)) == [], "names AuditAction lacks"


def actions_the_tests_ask_for() -> Iterator[tuple[str, str]]:
    """String actions in the tests' queries: filter(action=...), action__in=[...] and
    comparisons with an event's .action."""
    for path, tree in modules(TESTS):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in ("action", "action__in"):
                values = (
                    node.value.elts
                    if isinstance(node.value, ast.List | ast.Tuple | ast.Set)
                    else [node.value]
                )
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        yield where(path, value), value.value
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr == "action" for s in sides):
                    for side in sides:
                        if isinstance(side, ast.Constant) and isinstance(side.value, str):
                            yield where(path, side), side.value


def test_the_tests_ask_only_for_actions_that_exist() -> None:
    # A misspelt action makes "no such event" assertions pass for the wrong reason.
    asked = list(actions_the_tests_ask_for())
    assert len(asked) >= 50
    values = set(AuditAction.values)
    assert [f"{at} asks for {value!r}" for at, value in asked if value not in values] == []


@pytest.mark.parametrize("action", list(AuditAction))
def test_every_action_fits_its_column_and_has_a_label_for_admins(action: AuditAction) -> None:
    width = AuditEvent._meta.get_field("action").max_length
    assert width is not None and len(action.value) <= width
    assert action.label and action.label != action.value
    assert action.label[0].isupper()
