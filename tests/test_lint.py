"""The strict tooling of pyproject.toml holds on every commit: ruff (lint and format) on
the tree, mypy strict on the package and on the tests. Both run as the tests' own
interpreter's modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    done = run_tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_tree_is_as_ruff_format_writes_it() -> None:
    done = run_tool("ruff", "format", "--check", ".")
    assert done.returncode == 0, "run `ruff format .`:\n" + done.stdout + done.stderr


def test_mypy_strict_finds_nothing() -> None:
    done = run_tool("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
