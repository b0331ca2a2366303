"""Helpers for tests of the claude-code runner and worktrees (no tests of its own)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from houston.home.layout import Home

CODER = """---
name: coder
description: Edits code in its own worktree.
runner: claude-code
workspace: worktree
tools: Read, Write, Edit, Bash
{extra}---
You change files in the repository you are started in.
"""


# Where the README and .ci/run install the CLI: `npm install --prefix .npm ...`.
REPO_CLAUDE = Path(__file__).resolve().parents[2] / ".npm" / "node_modules" / ".bin" / "claude"


def claude_executable() -> str:
    """The real Claude Code CLI; a missing one fails the test (never skips it)."""
    found = os.environ.get("HOUSTON_CLAUDE") or shutil.which("claude")
    if not found and REPO_CLAUDE.is_file():
        found = str(REPO_CLAUDE)
    if not found or not Path(found).is_file():
        pytest.fail(
            "Claude Code is not installed: `npm install --prefix .npm "
            "@anthropic-ai/claude-code` in the checkout (or set HOUSTON_CLAUDE, or put "
            "claude on PATH)"
        )
    return found


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with one commit of `files`."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test User")
    git(folder, "config", "user.email", "test@example.com")
    for name, text in (files or {"README.md": "# demo\n"}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def make_coding_package(home: Home, agents: dict[str, str] | None = None) -> Path:
    """Package `c` with the agent `coder` (and any extra agents given as file texts)."""
    folder = home.packages / "c" / "1.0.0"
    (folder / "agents").mkdir(parents=True, exist_ok=True)
    (folder / "package.yaml").write_text("name: c\nversion: 1.0.0\n")
    texts = {"coder": CODER.format(extra=""), **(agents or {})}
    for name, text in texts.items():
        (folder / "agents" / f"{name}.md").write_text(text)
    return folder


def claude_environment(monkeypatch: pytest.MonkeyPatch, base_url: str, tmp_path: Path) -> None:
    """Workers (and so claude) inherit this: the stub server, a throwaway HOME."""
    monkeypatch.setenv("HOUSTON_CLAUDE", claude_executable())
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    home = tmp_path / "user-home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


def events_of(home: Home, type_: str) -> list[dict[str, Any]]:
    from houston.home.events import EventLog

    return [e for e in EventLog(home.events).read() if e["type"] == type_]
