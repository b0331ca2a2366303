"""What a fresh machine needs: every module of houston/ imports with only the declared
dependencies, and a test whose dependency is missing fails instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

IMPORT_ALL = """
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
failed = []
for path in sorted((root / "houston").rglob("*.py")):
    name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    if name.endswith("__main__"):
        continue
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_of_the_package_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_test_skipped_for_a_missing_module_fails(tmp_path: Path) -> None:
    (tmp_path / "test_needs_it.py").write_text(
        "import pytest\n\ndef test_uses_it():\n    pytest.importorskip('houston_no_such_module')\n"
    )
    (tmp_path / "test_module_level.py").write_text(
        "import pytest\n"
        "pytest.importorskip('houston_no_such_module_either')\n\n"
        "def test_never_collected():\n"
        "    pass\n"
    )
    (tmp_path / "test_honest_skip.py").write_text(
        "import pytest\n\n"
        "def test_skipped_for_a_reason():\n"
        "    pytest.skip('no second filesystem here')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "helpers.missing_dependency",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "--continue-on-collection-errors",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 skipped, 1 error" in done.stdout, done.stdout
    assert "FAILED test_needs_it.py::test_uses_it" in done.stdout
    assert "ERROR test_module_level.py" in done.stdout
    assert done.stdout.count("declare it in pyproject.toml") >= 2
