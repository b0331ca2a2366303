"""The package's shape holds: no import cycle among houston's modules (imports inside
functions and under TYPE_CHECKING count: they are dependencies all the same, and a cycle
hidden in a function is still a knot to untie), no module over 400 lines, no function over
40. docs/architecture.md says which way the dependencies point.

The checks read the source with `ast` and never import it. Each failure lists everything
it found, so one run shows the whole work left."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from helpers.structure import (
    PACKAGE,
    ROOT,
    describe_cycles,
    long_functions,
    package_graph,
    read_modules,
    shortest_cycle,
    size_report,
    strongly_connected,
)


def _write(root: Path, files: Iterable[tuple[str, str]]) -> Path:
    for relative, text in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


# The checkers themselves, on small packages written for the purpose: a checker that
# cannot see a cycle would pass the real test by accident.


def test_cycle_through_a_function_and_type_checking_import_is_found(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        [
            ("pkg/__init__.py", ""),
            ("pkg/a.py", "def f():\n    from pkg.b import g\n    return g\n"),
            ("pkg/b.py", "import typing\nif typing.TYPE_CHECKING:\n    from pkg import c\n"),
            ("pkg/c.py", "from . import a\n"),
            ("pkg/d.py", "import pkg.a\n"),
        ],
    )
    graph = package_graph(package)
    assert strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert shortest_cycle(graph, "pkg.a", {"pkg.a", "pkg.b", "pkg.c"}) == [
        "pkg.a",
        "pkg.b",
        "pkg.c",
        "pkg.a",
    ]


def test_a_package_without_cycles_reports_none(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        [
            ("pkg/__init__.py", "from pkg.sub import x\n"),
            ("pkg/sub/__init__.py", "from ..leaf import y as x\n"),
            ("pkg/leaf.py", "import os\ny = os.sep\n"),
        ],
    )
    graph = package_graph(package)
    assert graph == {"pkg": {"pkg.sub"}, "pkg.sub": {"pkg.leaf"}, "pkg.leaf": set()}
    assert describe_cycles(graph) == []


def test_long_functions_counts_methods_and_nested_functions_apart() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(3))
    text = f"class K:\n    def m(self):\n{body.replace('    ', '        ')}\n\ndef f():\n{body}\n"
    assert long_functions(text, 2) == [("K.m", 2, 4), ("f", 7, 4)]
    assert long_functions(text, 4) == []


def test_houston_has_no_import_cycles() -> None:
    graph = package_graph(PACKAGE)
    assert len(graph) > 100 and sum(map(len, graph.values())) > 300, "the scan sees nothing"
    cycles = describe_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycles in houston/:\n" + "\n".join(cycles)


def test_houston_modules_and_functions_stay_small() -> None:
    modules = read_modules(PACKAGE)
    assert len(modules) > 100, "the scan sees nothing"
    too_long = size_report(modules, ROOT)
    assert not too_long, "too long:\n" + "\n".join(too_long)


def imports_of_test_modules(text: str) -> list[str]:
    """The test modules (and conftest) a source imports by name."""
    names: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in names if n.split(".")[-1].startswith(("test_", "conftest"))]


def test_imports_of_test_modules_are_found() -> None:
    text = "import test_a\nfrom test_b import x\nfrom helpers.k8s import y\nimport tests.conftest\n"
    assert imports_of_test_modules(text) == ["test_a", "test_b", "tests.conftest"]


def test_modules_import_helpers_never_a_test_module() -> None:
    """Shared test code lives in tests/helpers/: a test module that others import runs its
    tests twice and hides what it shares."""
    importing = {
        path.name: found
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if (found := imports_of_test_modules(path.read_text(encoding="utf-8")))
    }
    assert importing == {}, "move what they share into tests/helpers/"
