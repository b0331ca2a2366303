"""The package's shape holds: no import cycle among houston's modules (imports inside
functions and under TYPE_CHECKING count: they are dependencies all the same, and a cycle
hidden in a function is still a knot to untie), no module over 400 lines, no function over
40. docs/architecture.md says which way the dependencies point.

The checks read the source with `ast` and never import it. Each failure lists everything
it found, so one run shows the whole work left."""

from __future__ import annotations

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
