"""`houston recover --finish` also runs the missions an earlier `recover` put back in
COMMITTED (not only those its own sweep finds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from helpers.engine import REPO, houston_process, submit, wait_for

from houston.core.lifecycle import MissionState
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def houston(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_recover_finish_runs_what_an_earlier_recover_handed_back(home: Home) -> None:
    ref = submit(
        home,
        """
        name: orphaned
        tasks:
          - {id: a, agent: core/shell, inputs: {command: "sleep 0.5"}}
    """,
    )
    untouched = submit(
        home,
        """
        name: fresh
        gate: approve
        tasks:
          - {id: a, agent: core/shell, inputs: {command: "true"}}
    """,
    )
    serve = houston_process(home, "serve", "--no-ui", "--workers", "1")
    try:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="the agent to start")
    finally:
        serve.send_signal(signal.SIGKILL)  # the engine dies mid-mission
        serve.communicate(timeout=30)
    from houston import actions

    actions.approve(MissionStore(home), untouched.id)  # COMMITTED, but never recovered
    first = houston(home, "recover")
    assert first.returncode == 0 and ref.id in first.stdout, first.stdout + first.stderr
    assert MissionStore(home).locate(ref.id).state is MissionState.COMMITTED
    second = houston(home, "recover", "--finish", "--workers", "1")
    assert second.returncode == 0, second.stderr
    assert "recovered earlier wait in COMMITTED" in second.stdout
    done = MissionStore(home).locate(ref.id)
    status = MissionStore(home).status(done)
    assert (done.state, status["outcome"]) == (MissionState.COMPLETED, "succeeded")
    # a mission that was never recovered is left for `houston serve`
    assert MissionStore(home).locate(untouched.id).state is MissionState.COMMITTED
    assert "nothing to recover" in houston(home, "recover").stdout
