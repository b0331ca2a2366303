"""Reading houston's source with `ast` (never importing it): its modules, their import graph
and cycles, and the functions and modules over the size limits. Used by tests/test_structure.py,
tests/test_engine_structure.py and tests/test_layers.py."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "houston"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    """`houston/engine/pool.py` -> `houston.engine.pool`; a package's `__init__` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_modules(package_dir: Path) -> dict[str, tuple[Path, str]]:
    """Every module under `package_dir` by dotted name, with its path and source text."""
    root = package_dir.parent
    found: dict[str, tuple[Path, str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        found[module_name(path, root)] = (path, path.read_text(encoding="utf-8"))
    return found


def _absolute(current: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name a (possibly relative) `from` import points at."""
    if level == 0:
        return target or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imported_names(current: str, is_package: bool, tree: ast.AST) -> set[str]:
    """Every module name the tree may import, anywhere in it (functions, TYPE_CHECKING).
    `from pkg import name` gives `pkg.name`: `import_graph` falls back to `pkg` when
    `name` is not a submodule."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(current, is_package, node.level, node.module)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(sources: Mapping[str, tuple[bool, str]]) -> Graph:
    """Edges from each module to the modules of the same set it imports. A name that is
    not a module of the set (a class imported from a module) falls back to its module."""
    graph: Graph = {name: set() for name in sources}
    for name, (is_package, text) in sources.items():
        for target in imported_names(name, is_package, ast.parse(text)):
            while target and target not in sources:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def shortest_cycle(graph: Graph, start: str, members: set[str]) -> list[str]:
    """A shortest path from `start` back to itself inside one component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    return []


def describe_cycles(graph: Graph) -> list[str]:
    """One line per component: a shortest cycle through its first module, then every
    import that stays inside the component (each one is a place to cut)."""
    lines = []
    for component in strongly_connected(graph):
        members = set(component)
        inner = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
        cycle = " -> ".join(shortest_cycle(graph, component[0], members))
        lines.append(f"{cycle}\n    imports inside: " + "; ".join(inner))
    return lines


def long_functions(text: str, limit: int) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of each function longer than `limit` lines,
    counted from `def` to its last line; nested functions and methods are counted apart."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}."
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    found.append((name[:-1], child.lineno, length))
            visit(child, name)

    visit(ast.parse(text), "")
    return found


def size_report(modules: Mapping[str, tuple[Path, str]], root: Path) -> list[str]:
    lines = []
    for _, (path, text) in sorted(modules.items()):
        where = path.relative_to(root)
        count = len(text.splitlines())
        if count > MAX_MODULE_LINES:
            lines.append(f"{where}: {count} lines (module limit {MAX_MODULE_LINES})")
        for name, lineno, length in long_functions(text, MAX_FUNCTION_LINES):
            lines.append(f"{where}:{lineno} {name}: {length} lines (limit {MAX_FUNCTION_LINES})")
    return lines


def package_graph(package_dir: Path) -> Graph:
    modules = read_modules(package_dir)
    return import_graph(
        {name: (path.name == "__init__.py", text) for name, (path, text) in modules.items()}
    )
