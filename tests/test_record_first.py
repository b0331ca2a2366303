"""Record first, release second: a process SIGKILLed at each named point of the crash
rules (houston.home.killpoints) leaves records that the next sweep completes, and nothing
behind that the sweep does not remove."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.engine import (
    REPO,
    houston_process,
    lines,
    make_test_package,
    state_of,
    submit,
    wait_for,
)
from helpers.procs import alive

from houston.core.lifecycle import MissionState, Reason
from houston.engine.recovery import sweep
from houston.home import attemptfiles, claims, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def _houston(
    home: Home, *args: str, kill_at: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("HOUSTON_TEST_KILL_AT", None)
    if kill_at:
        env["HOUSTON_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        start_new_session=True,
        check=False,
    )


def _status(home: Home, mission_id: str) -> dict[str, object]:
    ref = MissionStore(home).locate(mission_id)
    status: dict[str, object] = json.loads((ref.path / "status.json").read_text())
    return status


def test_a_mover_killed_between_rename_and_record_is_finished_by_the_sweep(home: Home) -> None:
    ref = submit(
        home, "name: torn\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'true'}}\n"
    )
    store = MissionStore(home)
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    script = (
        "import sys; from houston.home.layout import Home;"
        "from houston.home.store import MissionStore;"
        "from houston.core.lifecycle import MissionState, Reason;"
        "from pathlib import Path;"
        "MissionStore(Home(Path(sys.argv[1]))).move(sys.argv[2], MissionState.EXECUTING,"
        " MissionState.COMPLETED, Reason.ALL_TASKS_DONE)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), HOUSTON_TEST_KILL_AT="move.renamed")
    done = subprocess.run(
        [sys.executable, "-c", script, str(home.root), ref.id], env=env, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert store.locate(ref.id).state is MissionState.COMPLETED
    assert _status(home, ref.id)["state"] == "EXECUTING"  # the torn record
    actions = sweep(home)
    assert {
        "action": "finished_move",
        "mission": ref.id,
        "from": "EXECUTING",
        "to": "COMPLETED",
    } in actions
    status = _status(home, ref.id)
    assert (status["state"], status["outcome"]) == ("COMPLETED", "succeeded")
    trail = store.transitions(store.locate(ref.id))
    assert [(e["from"], e["to"]) for e in trail][-1] == ("EXECUTING", "COMPLETED")
    assert sweep(home) == []


def test_an_engine_killed_mid_move_leaves_nothing_that_recovery_cannot_finish(
    home: Home, tmp_path: Path
) -> None:
    """The engine dies right after renaming its mission into COMPLETED (its 2nd move)."""
    make_test_package(home)
    runs = tmp_path / "runs"
    ref = submit(
        home,
        f'name: last-step\ntasks:\n  - {{id: a, agent: t/record, inputs: {{file: "{runs}"}}}}\n',
    )
    killed = _houston(
        home, "serve", "--until-idle", "--no-ui", "--workers", "1", kill_at="move.renamed@2"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert MissionStore(home).locate(ref.id).state is MissionState.COMPLETED
    assert _status(home, ref.id)["outcome"] is None
    recovered = _houston(home, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "recorded its move EXECUTING -> COMPLETED" in recovered.stdout
    assert _status(home, ref.id)["outcome"] == "succeeded"
    assert lines(runs) == ["a"]


def test_a_recoverer_killed_after_its_record_leaves_the_lock_for_the_next(
    home: Home, tmp_path: Path
) -> None:
    make_test_package(home)
    runs, go = tmp_path / "runs", tmp_path / "go"
    ref = submit(
        home,
        f"name: held\ntasks:\n  - {{id: a, agent: t/record, "
        f'inputs: {{file: "{runs}", wait: "{go}"}}}}\n',
    )
    engine = houston_process(home, "serve", "--no-ui", "--workers", "1", quiet=True)
    try:
        wait_for(lambda: lines(runs) == ["a"], timeout=60, what="the task to start")
    finally:
        os.killpg(engine.pid, signal.SIGKILL)  # the engine and its workers
        engine.wait(timeout=10)
    path = MissionStore(home).locate(ref.id).path
    task_dir = taskfiles.task_dir(path, "a")
    assert claims.is_locked(task_dir)
    killed = _houston(home, "recover", kill_at="recover.recorded")
    assert killed.returncode == -signal.SIGKILL
    exit_record = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert exit_record is not None and exit_record.reason == "interrupted"
    assert state_of(path, "a").state == "pending"
    assert claims.is_locked(task_dir)  # recorded, not yet released
    assert _houston(home, "recover").returncode == 0
    assert not claims.is_locked(taskfiles.task_dir(MissionStore(home).locate(ref.id).path, "a"))
    go.touch()
    finished = _houston(home, "serve", "--until-idle", "--no-ui", "--workers", "1")
    assert finished.returncode == 0, finished.stderr
    assert _status(home, ref.id)["outcome"] == "succeeded"
    assert state_of(MissionStore(home).locate(ref.id).path, "a").crashes == 0


def test_an_engine_killed_after_recording_a_dead_worker_leaves_no_orphan(
    home: Home, tmp_path: Path
) -> None:
    agent = tmp_path / "agent"
    command = f'if [ "$HOUSTON_ATTEMPT" = 1 ]; then echo $$ > {agent}; sleep 30; fi'
    ref = submit(
        home,
        f"""name: twice-dead
tasks:
  - {{id: a, agent: core/shell, inputs: {{command: '{command}'}}}}
""",
    )
    engine = houston_process(
        home, "serve", "--no-ui", "--workers", "1", kill_at="finish.recorded", quiet=True
    )
    try:
        wait_for(agent.exists, timeout=60, what="the agent")
        path = MissionStore(home).locate(ref.id).path
        owner = wait_for(lambda: claims.read_owner(taskfiles.task_dir(path, "a")), what="the lock")
        os.kill(owner.pid, signal.SIGKILL)  # its worker
        assert engine.wait(timeout=30) == -signal.SIGKILL  # at finish.recorded
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)
            engine.wait(timeout=10)
    assert not alive(int(agent.read_text()))  # stopped before anything was recorded
    exit_record = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert exit_record is not None and exit_record.reason == "crashed"
    assert claims.is_locked(taskfiles.task_dir(path, "a"))
    finished = _houston(home, "recover", "--finish", "--workers", "1")
    assert finished.returncode == 0, finished.stderr
    path = MissionStore(home).locate(ref.id).path
    assert _status(home, ref.id)["outcome"] == "succeeded"
    assert taskfiles.attempt_numbers(path, "a") == [1, 2]
    assert state_of(path, "a").crashes == 1


@pytest.mark.parametrize("point", ["worker.ran", "worker.recorded"])
def test_a_worker_killed_after_its_agent_succeeded_has_its_result_kept(
    home: Home, point: str
) -> None:
    ref = submit(
        home,
        "name: kept\ntasks:\n  - {id: a, agent: core/shell, "
        "inputs: {command: 'echo {\\\"x\\\": 1}'}}\n",
    )
    done = _houston(
        home, "serve", "--until-idle", "--no-ui", "--workers", "1", kill_at=point
    )  # reached by the workers only
    assert done.returncode == 0, done.stderr
    path = MissionStore(home).locate(ref.id).path
    assert _status(home, ref.id)["outcome"] == "succeeded"
    assert taskfiles.read_result(path, "a") == {"x": 1}
    assert taskfiles.attempt_numbers(path, "a") == [1]
    exit_record = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert exit_record is not None and exit_record.reason == "succeeded"


def test_stale_leftovers_are_removed_and_reported_fresh_ones_kept(home: Home) -> None:
    ref = submit(
        home, "name: litter\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'true'}}\n"
    )
    folder = MissionStore(home).locate(ref.id).path
    old = time.time() - 3600
    stale = [folder / ".status.json.k2j3.tmp", home.tmp / "20261206-killed-submit-abcd"]
    fresh = [folder / ".status.json.zz99.tmp", home.tmp / "20261206-live-submit-efgh"]
    for path in (stale[1], fresh[1]):
        path.mkdir()
        (path / "mission.yaml").write_text("name: x\n")
    for path in (stale[0], fresh[0]):
        path.write_text("{")
    for path in stale:
        os.utime(path, (old, old))
    report = _houston(home, "gc", "--json")
    assert report.returncode == 0, report.stderr
    assert sorted(json.loads(report.stdout)["leftovers"]) == sorted(str(p) for p in stale)
    assert [p.exists() for p in stale + fresh] == [False, False, True, True]
