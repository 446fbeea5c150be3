"""Parsing the project's Python files in tests, around a CPython 3.11 bug.

CPython 3.11's AST constructor keeps one recursion-depth counter per interpreter, which a
parse in another thread (a module compiled at its first import in a server thread, say)
can move in the middle of ours: `ast.parse` then raises a spurious "SystemError: AST
constructor recursion depth mismatch" (python/cpython gh-106905, fixed in 3.12). Seen once
in a CI run. The same source parsed again gives the tree: `parse` tries up to three times,
and raises any other error at once.
"""

from __future__ import annotations

import ast

_MISMATCH = "AST constructor recursion depth mismatch"


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    for attempt in range(3):
        try:
            return ast.parse(source, filename=filename)
        except SystemError as exc:
            if _MISMATCH not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")
