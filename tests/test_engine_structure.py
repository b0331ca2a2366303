"""The engine's shape holds, strictly (tests/test_structure.py checks the whole package):
its modules import each other one way only (imports inside functions and under
TYPE_CHECKING count), no module of it is over 400 lines and no function over 40, and its
parts are given their collaborators instead of sharing one `self` as mixins did."""

from __future__ import annotations

import ast

from helpers.structure import (
    PACKAGE,
    ROOT,
    describe_cycles,
    package_graph,
    read_modules,
    size_report,
)

ENGINE = PACKAGE / "engine"


def test_engine_modules_import_each_other_one_way() -> None:
    graph = package_graph(PACKAGE)
    engine = {name for name in graph if name.startswith("houston.engine.")}
    assert len(engine) > 20 and graph["houston.engine.engine"] & engine, "the scan sees nothing"
    inside = {name: graph[name] & engine for name in engine}
    assert describe_cycles(inside) == []


def test_engine_modules_and_functions_stay_small() -> None:
    modules = {
        name: found
        for name, found in read_modules(PACKAGE).items()
        if name.startswith("houston.engine")
    }
    assert modules and size_report(modules, ROOT) == []


def test_engine_parts_are_not_mixins() -> None:
    """The engine inherits from nothing, and no class of the engine re-declares another
    part's attributes under TYPE_CHECKING."""
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            if path.stem == "engine":
                assert not node.bases, f"{node.name} inherits from {ast.unparse(node.bases[0])}"
            for item in node.body:
                assert not (
                    isinstance(item, ast.If) and "TYPE_CHECKING" in ast.unparse(item.test)
                ), f"{path.name}: {node.name} declares attributes it does not own"
