"""A mission's wall-time budget counts only the time it spent running (EXECUTING): not the
time between a failure and `houston retry`, nor time handed back to COMMITTED. A retry
keeps a failed task's error until a new attempt says otherwise."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.engine import outcome, run_engine, state_of, submit

from houston import actions
from houston.core.budget import wall_time_so_far
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def test_wall_time_so_far_reads_the_time_counted_in_status() -> None:
    assert wall_time_so_far({"usage": {"wall_time": 2.5}}) == 2.5
    assert wall_time_so_far({"usage": {"wall_time": True}}) == 0.0
    assert wall_time_so_far({}) == wall_time_so_far({"usage": None}) == 0.0


def test_time_between_a_failure_and_retry_is_not_charged(home: Home, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    ref = submit(
        home,
        f"""
        name: patient
        budget: {{max_wall_time: 3s}}
        tasks:
          - {{id: a, agent: core/shell, retries: 0, inputs: {{command: "test -e {flag}"}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    store = MissionStore(home)
    first = store.status(store.locate(ref.id))["usage"]["wall_time"]
    assert 0 < first < 3
    error = state_of(store.locate(ref.id).path, "a").error
    assert error and "cancelled" not in error
    time.sleep(3.2)  # longer than the whole budget, spent waiting in COMPLETED
    actions.retry(store, ref.id)
    assert state_of(store.locate(ref.id).path, "a").error == error  # kept
    time.sleep(0.3)  # and waiting in COMMITTED does not count either
    flag.write_text("now it passes")
    finished = run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded"), finished
    wall = store.status(store.locate(ref.id))["usage"]["wall_time"]
    assert first <= wall < 3  # the two runs only
