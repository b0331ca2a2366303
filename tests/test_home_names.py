"""Mission-level file names are spelled in houston/home/ only: everyone else asks
houston.home.layout for a mission folder's paths (docs/formats.md, "A mission folder").
This one also sees a name at the end of an f-string path (`f"{m}/status.json"`), which
tests/test_docs.py's check of every file of a home does not."""

from __future__ import annotations

import ast
from pathlib import Path

from houston.home import layout

PACKAGE = Path(__file__).resolve().parent.parent / "houston"
MISSION_FILES = frozenset(
    {
        layout.MISSION_SPEC,
        layout.STATUS,
        layout.TRAIL,
        layout.CONTEXT,
        layout.ENGINE_RECORD,
        layout.CANCEL_REQUEST,
        "decisions.jsonl",
    }
)
# `tasks/` is left out: paths under tasks/<t>/ belong to the task files' module.
MISSION_FOLDERS = frozenset({layout.OUTPUTS, layout.BLACKBOARD, "directives"})


def mission_names_spelled(text: str) -> list[tuple[int, str]]:
    """(line, name) of each string constant that names a mission file (alone or as the
    end of an f-string path), and of each `/ "folder"` path join to a mission folder."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.rsplit("/", 1)[-1]
            if name in MISSION_FILES and node.value in (name, f"/{name}"):
                found.append((node.lineno, node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and right.value in MISSION_FOLDERS:
                found.append((node.lineno, f"/ {right.value!r}"))
    return sorted(found)


def test_the_finder_sees_constants_fstrings_and_joins_only() -> None:
    text = (
        'A = "status.json"\nB = f"{x}/cancel.request"\nC = folder / "outputs"\n'
        '"""status.json in a docstring"""\nD = {"tasks": []}\nE = "my-status.json"\n'
    )
    assert mission_names_spelled(text) == [
        (1, "status.json"),
        (2, "/cancel.request"),
        (3, "/ 'outputs'"),
    ]


def test_only_home_spells_the_files_of_a_mission_folder() -> None:
    spelled = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("home/"):
            continue
        for line, name in mission_names_spelled(path.read_text(encoding="utf-8")):
            spelled[f"houston/{relative}:{line}"] = name
    assert spelled == {}, "use houston.home.layout's helpers for a mission folder's paths"
