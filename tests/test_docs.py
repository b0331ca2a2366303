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
    """Every string constant of the source that is a bare file name."""
    return {
        node.value
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and FILE_NAME.fullmatch(node.value)
    }


def test_file_names_spelled_counts_constants_only() -> None:
    text = 'A = "exit.json"\nB = f"{x}/state.json"\n"""owner.json in a docstring"""\nC = ".x.md"\n'
    assert file_names_spelled(text) == {"exit.json"}


def test_docs_formats_names_every_file_the_code_spells() -> None:
    doc = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    spelled: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        spelled |= file_names_spelled(path.read_text(encoding="utf-8"))
    assert len(spelled) > 20
    missing = sorted(name for name in spelled - NOT_IN_A_HOME if name not in doc)
    assert missing == [], "files of the home that docs/formats.md does not describe"


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
    page.write_text("[x](a.md#the-event-log-homeevents) [y](a.md#gone) [z](c.md) [w](https://e)\n"
                    "```\n[v](nowhere.md)\n```\n")
    assert broken_links(page) == ["b.md: a.md#gone (no such heading)", "b.md: c.md (no such file)"]


def test_readme_and_docs_link_only_to_what_exists() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert [broken for page in pages for broken in broken_links(page)] == []
