"""The engine's shape holds: its modules import each other one way only (counting imports
inside functions and under TYPE_CHECKING), no module is over 400 lines and no function
over 40, and its parts are given their collaborators instead of sharing one `self`."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "houston" / "engine"


def engine_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text()) for path in sorted(ENGINE.glob("*.py"))}


def imported_engine_modules(tree: ast.Module, known: set[str]) -> set[str]:
    """Every houston.engine module `tree` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "houston.engine":
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "houston.engine."):
            found.add(str(node.module).split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names
                      if alias.name.startswith("houston.engine.")}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (cycle := visit(dep, [*path, dep])):
                return cycle
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name, [name])):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_engine_modules_import_each_other_one_way() -> None:
    modules = engine_modules()
    graph = {name: imported_engine_modules(tree, set(modules)) - {name}
             for name, tree in modules.items()}
    assert graph["engine"], "the import scan sees nothing: it is broken"
    assert find_cycle(graph) is None


def test_engine_modules_and_functions_stay_small() -> None:
    too_long = []
    for path in sorted(ENGINE.glob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = int(node.end_lineno or node.lineno) - node.lineno + 1
                if length > 40:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def test_engine_parts_are_not_mixins() -> None:
    """No class of the engine inherits from another engine class, and none re-declares
    another part's attributes under TYPE_CHECKING."""
    for name, tree in engine_modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and name in ("engine", "attempts"):
                assert not node.bases, f"{name}.{node.name} inherits {ast.unparse(node)[:80]}"
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    assert not (isinstance(item, ast.If)
                                and "TYPE_CHECKING" in ast.unparse(item.test)), (
                        f"{name}.{node.name} declares attributes it does not own")
