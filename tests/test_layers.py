"""Dependencies point one way, down the layers of docs/architecture.md:

    cli -> server, engine -> actions, views -> ... -> home -> ... -> core

Every module of houston/ has a place in LAYERS (top first). A module may import a module
of its own unit (a package, or a few loose modules that belong together), and any module
of a lower layer; an import of a higher layer (up) or of another unit of the same layer
(sideways) is a failure. Imports inside functions and under TYPE_CHECKING count: they are
dependencies all the same. The failure lists every such import with its file and line, so
one run shows the whole work left.

The checks read the source with `ast` and never import it."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from helpers.structure import PACKAGE, ROOT, read_modules

# (layer, its units); a unit is a name and the modules (and packages) it holds.
Layers = Sequence[tuple[str, Sequence[tuple[str, Sequence[str]]]]]

LAYERS: Layers = [
    ("entry point", [("main", ["houston.__main__"])]),
    ("command line", [("cli", ["houston.cli"])]),
    ("orchestration", [("server", ["houston.server"]), ("engine", ["houston.engine"])]),
    (
        "verbs and reads",
        [
            ("actions", ["houston.actions"]),
            # The read side. houston/views/ gathers the loose modules (and the server's
            # read modules) as it grows; names not in the tree are simply unused.
            (
                "views",
                [
                    "houston.views",
                    "houston.taskview",
                    "houston.explain",
                    "houston.costs",
                    "houston.server.views",
                    "houston.server.detail",
                    "houston.engine.logview",
                    "houston.otel",
                    "houston.metrics",
                ],
            ),
        ],
    ),
    (
        "agents and workspaces",
        [
            ("agents", ["houston.agents"]),
            ("workspaces", ["houston.workspaces"]),
        ],
    ),
    (
        "runners and specs",
        [
            ("runners", ["houston.runners"]),
            ("specs", ["houston.mission", "houston.mission_params", "houston.tenants"]),
        ],
    ),
    ("packages", [("pkg", ["houston.pkg"])]),
    ("the on-disk format", [("home", ["houston.home"])]),
    (
        "foundations",
        [
            ("secrets", ["houston.secretfiles"]),
            ("clock", ["houston.clock"]),
        ],
    ),
    ("core", [("core", ["houston.core", "houston"])]),
]

# Imports that point the wrong way today and are being moved by work in progress (none:
# houston/views/ took the cost table's reading out of cli/costs.py).
PENDING: set[tuple[str, str]] = set()


def place_of(module: str, layers: Layers) -> tuple[int, str] | None:
    """(layer index, unit name) of a module: the unit with the longest matching name. The
    package itself (`houston`) matches only itself, so a module left out is not core."""
    best: tuple[int, int, str] | None = None
    for index, (_, units) in enumerate(layers):
        for unit, names in units:
            for name in names:
                inside = module == name or (name.count(".") and module.startswith(name + "."))
                if inside and (best is None or len(name) > best[0]):
                    best = (len(name), index, unit)
    return None if best is None else (best[1], best[2])


def _absolute(current: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(current: str, is_package: bool, text: str) -> Iterator[tuple[int, str]]:
    """(line, name) of everything the module may import, anywhere in it; `from m import x`
    gives `m.x` (the caller falls back to `m` when `x` is not a module)."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(current, is_package, node.level, node.module)
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def wrong_way(
    modules: Mapping[str, tuple[Path, str]], layers: Layers, root: Path
) -> tuple[list[str], list[str]]:
    """(imports that point up or sideways, modules with no place in the layers)."""
    found: set[str] = set()
    unplaced = sorted(name for name in modules if place_of(name, layers) is None)
    for name, (path, text) in sorted(modules.items()):
        source = place_of(name, layers)
        for line, target in imports_of(name, path.name == "__init__.py", text):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            aim = place_of(target, layers) if target else None
            if source is None or aim is None or (name, target) in PENDING:
                continue
            if aim[0] < source[0] or (aim[0] == source[0] and aim[1] != source[1]):
                way = "up" if aim[0] < source[0] else "sideways"
                where = f"{path.relative_to(root)}:{line}"
                found.add(f"{where} {name} -> {target} ({way}: {source[1]} -> {aim[1]})")
    return sorted(found), unplaced


def test_houston_imports_point_down_the_layers() -> None:
    found, unplaced = wrong_way(read_modules(PACKAGE), LAYERS, ROOT)
    assert not unplaced, "modules with no layer (add them to LAYERS):\n" + "\n".join(unplaced)
    assert not found, f"{len(found)} imports point the wrong way:\n" + "\n".join(found)


SMALL: Layers = [
    ("top", [("app", ["pkg.app"])]),
    ("middle", [("left", ["pkg.left"]), ("right", ["pkg.right"])]),
    ("bottom", [("base", ["pkg.base", "pkg"])]),
]


def _modules(tmp_path: Path, files: Mapping[str, str]) -> dict[str, tuple[Path, str]]:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    return read_modules(tmp_path / "pkg")


def test_the_check_finds_up_and_sideways_imports_in_functions_and_type_checking(
    tmp_path: Path,
) -> None:
    modules = _modules(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/app.py": "from pkg import left\nfrom pkg.base import x\n",
            "pkg/left/__init__.py": "def f():\n    from ..right import y\n",
            "pkg/left/deep.py": "from . import z\nimport pkg.left\n",
            "pkg/right.py": "import typing\nif typing.TYPE_CHECKING:\n    import pkg.app\n",
            "pkg/base.py": "import os\nfrom pkg.left.deep import thing\n",
            "pkg/stray.py": "import pkg.base\n",
        },
    )
    found, unplaced = wrong_way(modules, SMALL, tmp_path)
    assert found == [
        "pkg/base.py:2 pkg.base -> pkg.left.deep (up: base -> left)",
        "pkg/left/__init__.py:2 pkg.left -> pkg.right (sideways: left -> right)",
        "pkg/right.py:3 pkg.right -> pkg.app (up: right -> app)",
    ]
    assert unplaced == ["pkg.stray"]


def test_the_package_itself_does_not_take_in_every_module() -> None:
    assert place_of("pkg", SMALL) == (2, "base")
    assert place_of("pkg.stray", SMALL) is None
    assert place_of("pkg.left.deep", SMALL) == (1, "left")
    assert place_of("houston.server.views", LAYERS) == (3, "views")
    assert place_of("houston.server.api", LAYERS) == (2, "server")
