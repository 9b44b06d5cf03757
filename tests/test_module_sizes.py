"""Every module of the package reads in one sitting: none passes 400 lines, no function or
method passes 60 (from its `def` to its last line, decorators aside). A module or function
that grows past them is split by concept, as issue 26 split the bundle reader and importer.
A shipped migration is history and stays as it shipped: its `upgrade` is not measured."""

from __future__ import annotations

import ast
from pathlib import Path

from .test_architecture import MODULES, ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
SHIPPED_MIGRATIONS = ROOT / "db" / "migrations" / "versions"


def too_long_functions(source: str, where: str) -> list[str]:
    """Each function and method of `source` (nested ones too) longer than the limit."""
    return [
        f"{where}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def too_long_module(source: str, where: str) -> list[str]:
    lines = len(source.splitlines())
    return [f"{where} ({lines} lines)"] if lines > MAX_MODULE_LINES else []


def _shown(path: Path) -> str:
    return path.relative_to(ROOT.parent).as_posix()


def test_the_measures_see_what_is_too_long() -> None:
    fits = "def fits():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1)
    body = "        x = 1\n" * MAX_FUNCTION_LINES
    longer = f"class A:\n    @property\n    async def longer(self):\n{body}"
    assert too_long_functions(fits, "m.py") == []
    assert too_long_functions(longer, "m.py") == ["m.py:3 longer (61 lines)"]
    assert too_long_module("x = 1\n" * MAX_MODULE_LINES, "m.py") == []
    assert too_long_module("x = 1\n" * (MAX_MODULE_LINES + 1), "m.py") == ["m.py (401 lines)"]
    assert len(MODULES) > 100  # the whole package is measured


def test_no_module_passes_400_lines() -> None:
    offenders = [
        found
        for path in MODULES.values()
        for found in too_long_module(path.read_text(encoding="utf-8"), _shown(path))
    ]
    assert offenders == [], "split these by concept: " + "; ".join(offenders)


def test_no_function_passes_60_lines() -> None:
    offenders = [
        found
        for path in MODULES.values()
        if not path.is_relative_to(SHIPPED_MIGRATIONS)
        for found in too_long_functions(path.read_text(encoding="utf-8"), _shown(path))
    ]
    assert offenders == [], "split these: " + "; ".join(offenders)
