"""Shared fixtures: a fresh home per test and a guard that fails any test leaking a process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers.procs import running

from houston.home.layout import Home

pytest_plugins = ["helpers.missing_dependency"]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / ".houston").ensure()


def _descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Every process a test starts must be gone (and reaped) when the test ends."""
    before = {p.pid for p in _descendants()}
    yield
    deadline = time.monotonic() + 5.0
    leaked: list[psutil.Process] = []
    while time.monotonic() < deadline:
        leaked = [p for p in _descendants() if p.pid not in before and running(p)]
        if not leaked:
            break
        time.sleep(0.05)
    described = []
    for proc in leaked:
        try:
            described.append((proc.pid, proc.name(), proc.cmdline()))
        except psutil.Error:
            described.append((proc.pid, "?", []))
        try:
            proc.kill()
            proc.wait(timeout=2)
        except psutil.Error:
            pass
    assert not leaked, f"test leaked processes: {described}"
