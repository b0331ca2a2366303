"""Claude Code's file tools, confined to the work folder (no model involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from houston.runners.tools import chosen_tools, summarize, tool_names
from houston.runners.tools_files import ToolError, edit, glob, grep, read, write


@pytest.fixture
def root(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src" / "a.py").write_text("x = 1\nsecret = 'no'\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("secret = 'yes'\n")
    (work / "linked").symlink_to(outside, target_is_directory=True)
    (work / "escape.py").symlink_to(outside / "secret.py")
    return work


def test_glob_and_grep_never_follow_links_out_of_the_folder(root: Path) -> None:
    assert glob(root, {"pattern": "**/*.py"}) == "src/a.py"
    assert grep(root, {"pattern": "secret", "output_mode": "content"}) == "src/a.py:2:secret = 'no'"
    with pytest.raises(ToolError, match="outside the work folder"):
        grep(root, {"pattern": "secret", "path": "linked"})


@pytest.mark.parametrize(
    "path",
    [
        "escape.py",
        "linked/secret.py",
        "../outside/secret.py",
        "/etc/passwd",
        "src/../../outside/secret.py",
    ],
)
def test_reads_and_writes_outside_are_refused(root: Path, path: str) -> None:
    with pytest.raises(ToolError, match="outside the work folder"):
        read(root, {"file_path": path})
    with pytest.raises(ToolError, match="outside the work folder"):
        write(root, {"file_path": path, "content": "x"})
    assert (root.parent / "outside" / "secret.py").read_text() == "secret = 'yes'\n"


def test_edit_wants_a_unique_match_unless_replace_all(root: Path) -> None:
    write(root, {"file_path": str(root / "b.txt"), "content": "a a b"})
    with pytest.raises(ToolError, match="occurs 2 times"):
        edit(root, {"file_path": "b.txt", "old_string": "a", "new_string": "c"})
    assert (
        edit(
            root, {"file_path": "b.txt", "old_string": "a", "new_string": "c", "replace_all": True}
        )
        == "replaced 2 occurrence(s)"
    )
    assert read(root, {"file_path": "b.txt"}) == "     1\tc c b"


def test_tool_names_follow_claude_codes_spellings() -> None:
    assert tool_names("Read, Grep, Bash(git:*)") == ["Read", "Grep", "Bash"]
    agent = {"tools": ["Read", "Write", "Bash"], "disallowedTools": "Bash"}
    assert chosen_tools(agent) == ["Read", "Write"]
    assert chosen_tools({}) == []
    assert summarize({"command": "echo  hi\nthere", "n": 3}) == "command=echo hi there n=3"
