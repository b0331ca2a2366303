"""Every registered subcommand loads: `houston NAME --help` works in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from houston.cli.main import COMMANDS

pytestmark = pytest.mark.process


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_of_every_command(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "houston", name, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "HOUSTON_HOME": str(tmp_path / ".houston")},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert f"Usage: houston {name}" in done.stdout
    assert not (tmp_path / ".houston").exists()


def test_version_is_answered_before_click_loads_and_says_what_click_would(tmp_path: Path) -> None:
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )

    fast = run("-X", "importtime", "-m", "houston", "--version")
    assert fast.returncode == 0, fast.stderr
    assert " click" not in fast.stderr  # -X importtime lists every module imported
    full = run("-c", "from houston.cli.main import main; main(['--version'])")
    assert full.returncode == 0, full.stderr
    assert fast.stdout == full.stdout and fast.stdout.startswith("houston, version ")
