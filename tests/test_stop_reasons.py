"""The error of an attempt the engine stopped says why: `timeout (1s)`, `budget exceeded
(tokens N of 50)`, `cancelled`; never how the process died. exit.json, state.json (what
`houston show` and the dashboard read) and the events agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import (
    REPO,
    engine_thread,
    make_test_package,
    run_engine,
    submit,
    wait_for,
)

from houston import actions
from houston.core.budget import over_text, stop_text
from houston.core.lifecycle import MissionState
from houston.home import attemptfiles, taskfiles
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.records import ExitRecord, StateRecord
from houston.home.store import MissionRef, MissionStore


def test_stop_texts() -> None:
    assert over_text("tokens", 1100, 1000.0) == "budget exceeded (tokens 1100 of 1000)"
    mission = over_text("cost", 0.06, 0.05, "mission")
    assert mission == "budget exceeded (mission cost $0.06 of $0.05)"
    assert over_text("wall_time", 10.004, 10.0) == "budget exceeded (wall time 10s of 10s)"
    assert stop_text("timeout", 30.0) == "timeout (30s)" and stop_text("cancelled") == "cancelled"


def records(
    home: Home, ref: MissionRef, task: str
) -> tuple[ExitRecord, StateRecord, list[dict[str, Any]], str]:
    """exit.json of attempt 1, state.json, the attempt.end events, `houston show`."""
    path = MissionStore(home).locate(ref.id).path
    exit_ = attemptfiles.read_exit(taskfiles.attempt_dir(path, task, 1))
    state = taskfiles.read_state(path, task)
    assert exit_ is not None and state is not None
    ends = [
        e for e in EventLog(home.events).read() if e["type"] == "attempt.end" and e["task"] == task
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    shown = subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), "show", ref.id],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return exit_, state, ends, shown


@pytest.mark.process
def test_a_timeout_says_timeout_everywhere(home: Home) -> None:
    ref = submit(
        home,
        """
        name: slow
        tasks:
          - {id: a, agent: core/shell, timeout: 1s, retries: 0, inputs: {command: "sleep 30"}}
    """,
    )
    run_engine(home, ref)
    exit_, state, ends, shown = records(home, ref, "a")
    assert exit_.reason == "timeout" and exit_.error == "timeout (1s)"
    assert state.error == "timeout (1s)" and ends[-1]["data"]["error"] == "timeout (1s)"
    assert "timeout (1s)" in shown and "signal" not in shown


@pytest.mark.process
def test_a_budget_stop_says_how_much_was_spent(home: Home) -> None:
    make_test_package(home)
    ref = submit(
        home,
        """
        name: greedy
        tasks:
          - {id: g, agent: t/spend, budget: {max_tokens: 50},
             inputs: {tokens: 20, times: 50, sleep: 0.02}}
    """,
    )
    run_engine(home, ref)
    exit_, state, ends, shown = records(home, ref, "g")
    said = exit_.error
    assert said is not None
    assert re.fullmatch(r"budget exceeded \(tokens (\d+) of 50\)", said), said
    assert int(re.findall(r"\d+", said)[0]) > 50
    assert state.error == said and ends[-1]["data"]["error"] == said
    assert said in shown and "worker died" not in shown


@pytest.mark.process
def test_a_cancel_says_cancelled(home: Home, tmp_path: Path) -> None:
    ref = submit(
        home,
        """
        name: stopped
        tasks:
          - {id: a, agent: core/shell, inputs: {command: "sleep 30"}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="the agent to start")
        actions.cancel(MissionStore(home), ref.id)
        wait_for(lambda: ref.id in engine.finished, what="the mission to end")
    exit_, state, ends, shown = records(home, ref, "a")
    assert exit_.error == state.error == ends[-1]["data"]["error"] == "cancelled"
    assert "signal" not in shown
