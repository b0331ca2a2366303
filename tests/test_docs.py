"""The docs stay true to the code: the code map of docs/architecture.md and the writers
named in docs/formats.md (as `houston/<module>.py:<name>`) exist, docs/formats.md names
every file name the code spells, and the README and docs/ link only to files and
headings that exist. The code is read with `ast`, never imported."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "houston"


def defined_names(text: str) -> set[str]:
    """Qualified names of the module's top-level functions and classes and their methods."""
    names: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}.{child.name}"
                for child in node.body
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return names


CODE_REFERENCE = re.compile(r"`(houston/[A-Za-z0-9_/]+\.py):([A-Za-z_][A-Za-z0-9_.]*)`")


def stale_references(doc: str, root: Path) -> list[str]:
    """Each `houston/x.py:name` of `doc` whose module or name does not exist."""
    stale = []
    for relative, name in CODE_REFERENCE.findall(doc):
        path = root / relative
        if not path.is_file():
            stale.append(f"{relative}:{name} (no such module)")
        elif name not in defined_names(path.read_text(encoding="utf-8")):
            stale.append(f"{relative}:{name} (no such function or class)")
    return stale


def test_stale_references_are_found(tmp_path: Path) -> None:
    (tmp_path / "houston").mkdir()
    (tmp_path / "houston" / "m.py").write_text("class K:\n    def go(self):\n        pass\n")
    doc = "`houston/m.py:K.go` `houston/m.py:K.gone` `houston/n.py:f` `houston/m.py:K`"
    assert stale_references(doc, tmp_path) == [
        "houston/m.py:K.gone (no such function or class)",
        "houston/n.py:f (no such module)",
    ]


def test_the_code_map_of_docs_architecture_names_code_that_exists() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert len(CODE_REFERENCE.findall(doc)) >= 20  # the map is there and is read
    assert stale_references(doc, ROOT) == []


def test_the_writers_named_in_docs_formats_exist() -> None:
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    assert len(CODE_REFERENCE.findall(doc)) >= 5
    assert stale_references(doc, ROOT) == []


FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(json|jsonl|request|log|lock|md|yaml)")
# Names the code spells that are not files of a home: inside a bundle archive (docs/deploy.md),
# git's own lock in a worktree's git folder, and the tenants overlay of deploy/k8s that
# `houston tenants render` writes (docs/deploy.md).
NOT_IN_A_HOME = frozenset({"bundle.json", "index.lock", "kustomization.yaml", "teams.yaml"})


def file_names_spelled(text: str) -> set[str]:
    """Every string constant of the source that is a bare file name, alone or as the end of
    a path (`"/status.json"`, the last piece of `f"{m}/status.json"`)."""
    return {
        node.value.removeprefix("/")
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and FILE_NAME.fullmatch(node.value.removeprefix("/"))
    }


def test_file_names_spelled_counts_constants_only() -> None:
    text = (
        'A = "exit.json"\nB = f"{x}/state.json"\n"""owner.json in a docstring"""\n'
        'C = ".x.md"\nD = f"{path}: see docs/formats.md"\n'
    )
    assert file_names_spelled(text) == {"exit.json", "state.json"}


def test_docs_formats_names_every_file_the_code_spells() -> None:
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    spelled: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        spelled |= file_names_spelled(path.read_text(encoding="utf-8"))
    assert len(spelled) > 20
    missing = sorted(name for name in spelled - NOT_IN_A_HOME if name not in doc)
    assert missing == [], "files of the home that docs/formats.md does not describe"


# Names the code may spell outside houston/home/ because they are not files of a home or
# belong to the package format, each with the only modules that may spell it and why.
SPELLED_ELSEWHERE: dict[str, tuple[tuple[str, ...], str]] = {
    "package.yaml": (("houston/pkg/",), "the package format: a package's manifest"),
    "bundle.json": (("houston/pkg/",), "the package format: inside a bundle archive"),
    "packages.lock": (("houston/pkg/",), "the lock of package installs (pkg.install owns it)"),
    "kustomization.yaml": (
        ("houston/tenants.py", "houston/cli/tenants.py"),
        "deploy files that `houston tenants render` writes (docs/deploy.md)",
    ),
    "teams.yaml": (
        ("houston/tenants.py", "houston/cli/tenants.py"),
        "the tenants list of deploy/k8s that `houston tenants render` reads",
    ),
    "index.lock": (
        ("houston/workspaces/workspace.py",),
        "git's own lock in a worktree's git folder",
    ),
    "houston-worktrees.lock": (
        ("houston/workspaces/workspace.py",),
        "a lock in a repository's git folder, not in a home (docs/coding-agents.md)",
    ),
    "tasks/": (
        ("houston/workspaces/workspace.py",),
        "an attempt's git branch, `houston/<mission>/tasks/<task>/<attempt>`, not a path",
    ),
    "worktrees/": (
        ("houston/workspaces/workspace.py",),
        "git's own admin folder of a repository's worktrees (`.git/worktrees/`), not a home's",
    ),
}

# Folders of a home: joined into a path outside houston/home/, they build a path by hand.
HOME_FOLDERS = frozenset(
    {
        "missions",
        "tasks",
        "attempts",
        "lock",
        "claim",
        "blackboard",
        "directives",
        "outputs",
        "events",
        "run",
        "locks",
        "moves",
        "worktrees",
    }
)


def home_folders_joined(text: str) -> set[str]:
    """Folders of a home the source joins into a path, as `name/`: a string operand of `/`
    or of `os.path.join`, or a piece of an f-string between slashes (`f"{m}/tasks/{t}"`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.JoinedStr):
            for piece in node.values:
                if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                    between = re.findall(r"/([\w.-]+)(?=/|$)", piece.value)
                    found |= {f"{name}/" for name in between if name in HOME_FOLDERS}
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            operands = [node.left, node.right]
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("path.join"):
            operands = list(node.args)
        else:
            continue
        for operand in operands:
            if isinstance(operand, ast.Constant) and isinstance(operand.value, str):
                first = operand.value.split("/")[0]
                found |= {f"{first}/"} if first in HOME_FOLDERS else set()
    return found


def test_home_folders_joined_into_paths_are_found() -> None:
    text = (
        'a = root / "tasks" / t\nb = os.path.join(m, "blackboard/directives")\n'
        'c = f"{m}/tasks/{t}/attempts/{n}"\nd = f"outputs/{rel} does not exist"\n'
        'e = {"tasks": 1}\nf = "events"\n'
    )
    assert home_folders_joined(text) == {"tasks/", "blackboard/", "attempts/"}


def event_types(root: Path) -> set[str]:
    """`events.EVENT_TYPES`: `attempt.log` is an event's type, not a file."""
    source = (root / "houston" / "home" / "events.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "EVENT_TYPES" for t in node.targets
        ):
            return {
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    raise AssertionError("houston/home/events.py defines no EVENT_TYPES")


def home_names(text: str) -> set[str]:
    return file_names_spelled(text) | home_folders_joined(text)


def home_files_spelled_outside_home(root: Path) -> dict[str, set[str]]:
    """{module: the file names of a home it spells and the folders of a home it joins into
    a path} for every module outside houston/home/."""
    not_files = event_types(root)
    found: dict[str, set[str]] = {}
    for path in sorted((root / "houston").rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module.startswith("houston/home/"):
            continue
        names = {
            name
            for name in home_names(path.read_text(encoding="utf-8")) - not_files
            if not module.startswith(SPELLED_ELSEWHERE.get(name, ((),))[0])
        }
        if names:
            found[module] = names
    return found


def test_a_module_outside_home_that_spells_a_file_of_a_home_is_found(tmp_path: Path) -> None:
    for folder in ("home", "engine", "pkg", "cli"):
        (tmp_path / "houston" / folder).mkdir(parents=True)
    (tmp_path / "houston" / "home" / "events.py").write_text('EVENT_TYPES = {"attempt.log"}\n')
    (tmp_path / "houston" / "home" / "tasks.py").write_text('EXIT = "exit.json"\n')
    (tmp_path / "houston" / "engine" / "new.py").write_text(
        'E = "exit.json"\nL = "attempt.log"\nA = f"{t}/attempts/{n}"\nS = f"{m}/status.json"\n'
    )
    (tmp_path / "houston" / "pkg" / "m.py").write_text('M = "package.yaml"\n')
    (tmp_path / "houston" / "cli" / "p.py").write_text('M = "package.yaml"\n')
    assert home_files_spelled_outside_home(tmp_path) == {
        "houston/cli/p.py": {"package.yaml"},
        "houston/engine/new.py": {"exit.json", "attempts/", "status.json"},
    }


def test_only_houston_home_spells_the_file_names_of_a_home() -> None:
    found = home_files_spelled_outside_home(ROOT)
    assert found == {}, "name the file in houston/home/ and use its path helper there"


MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """A Markdown text without its fenced code blocks (lines from one ``` to the next)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lowercase, punctuation dropped,
    spaces as dashes."""
    found = set()
    for line in prose(text).splitlines():
        if match := re.match(r"#+\s+(.*)", line):
            title = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            found.add(title.replace(" ", "-"))
    return found


def broken_links(markdown: Path) -> list[str]:
    """Relative links of a Markdown file to a file or heading that does not exist."""
    broken = []
    for target in MARKDOWN_LINK.findall(prose(markdown.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        destination = markdown.parent / path if path else markdown
        if not destination.exists():
            broken.append(f"{markdown.name}: {target} (no such file)")
        elif fragment and fragment not in heading_anchors(destination.read_text(encoding="utf-8")):
            broken.append(f"{markdown.name}: {target} (no such heading)")
    return broken


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("## The event log (`<home>/events/`)\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[x](a.md#the-event-log-homeevents) [y](a.md#gone) [z](c.md) [w](https://e)\n"
        "```\n[v](nowhere.md)\n```\n"
    )
    assert broken_links(page) == ["b.md: a.md#gone (no such heading)", "b.md: c.md (no such file)"]


def test_readme_and_docs_link_only_to_what_exists() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert [broken for page in pages for broken in broken_links(page)] == []
