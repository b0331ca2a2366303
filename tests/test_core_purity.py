"""houston.core is pure: it imports no I/O, clock or randomness, and nothing outside core."""

from __future__ import annotations

import ast
from pathlib import Path

import houston.core

CORE = Path(houston.core.__file__).parent
# Standard modules a pure decision may use; anything else has to be argued for here.
ALLOWED = {
    "__future__",
    "collections",
    "collections.abc",
    "dataclasses",
    "datetime",
    "enum",
    "decimal",
    "errno",
    "re",
    "string",
    "typing",
    "unicodedata",
    # Text in, data out: encoding JSON, and the parsing and validation libraries
    # the mission YAML goes through (given text, never a file).
    "json",
    "math",
    "difflib",
    "types",
    "yaml",
    "pydantic",
    "pydantic_core",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}
FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "time", "monotonic"}  # clocks come in


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_core_modules_import_only_pure_modules_and_core() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 4
    for path in modules:
        for name in imported_modules(ast.parse(path.read_text(), str(path))):
            assert name in ALLOWED or name.startswith("houston.core"), f"{path.name}: {name}"


def test_core_modules_open_no_file_and_read_no_clock() -> None:
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in FORBIDDEN_ATTRIBUTES, f"{path.name}:{node.lineno}"


def test_the_check_finds_what_it_looks_for() -> None:
    tree = ast.parse("import os\nfrom houston.home.store import x\nfrom houston.core import dag\n")
    assert imported_modules(tree) == {"os", "houston.home.store", "houston.core"}
