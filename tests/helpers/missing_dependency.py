"""A pytest plugin: a test skipped because a module would not import is a failure.

`pytest.importorskip` turns a missing test dependency into a quiet skip, so a fresh
machine without it looks green. Every test dependency is declared in the `test` extra;
one that does not import is a broken install to fix, not a test to pass over.
"""

from __future__ import annotations

from collections.abc import Generator

import pluggy
import pytest

HINT = "a test dependency is missing: declare it in pyproject.toml's `test` extra and reinstall"


def _missing_module(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason = str(report.longrepr[2])
    return reason if "could not import" in reason else None


def _fail(report: pytest.CollectReport | pytest.TestReport) -> None:
    reason = _missing_module(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"{HINT} ({reason})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport() -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    _fail(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report() -> Generator[None, pluggy.Result[pytest.CollectReport], None]:
    outcome = yield
    _fail(outcome.get_result())
