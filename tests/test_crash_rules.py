"""The crash rules of docs/engine.md with real processes: what a crash is, the crash cap,
and no process of an attempt outliving it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from helpers.engine import engine_thread, exit_of, outcome, state_of, submit, wait_for
from helpers.procs import alive

from houston.home import claims, taskfiles
from houston.home.layout import Home
from houston.home.records import ExitRecord, ProcessRecord
from houston.home.store import MissionRef, MissionStore

pytestmark = pytest.mark.process


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _exits(home: Home, ref: MissionRef, task: str) -> list[ExitRecord]:
    path = MissionStore(home).locate(ref.id).path
    return [
        exit_of(taskfiles.attempt_dir(path, task, n)) for n in taskfiles.attempt_numbers(path, task)
    ]


def _kill_shell_of_attempt(shells: Path, attempt: int) -> int:
    """SIGKILL the shell of attempt `attempt` (it wrote `<attempt> <pid>` to `shells`)."""

    def found() -> int | None:
        rows = [r.split() for r in shells.read_text().splitlines()] if shells.exists() else []
        return next((int(pid) for n, pid in rows if int(n) == attempt), None)

    pid = wait_for(found, what=f"the shell of attempt {attempt}")
    os.kill(pid, signal.SIGKILL)
    return int(pid)


def test_an_agent_killed_by_a_signal_is_a_crash_not_a_failure(home: Home, tmp_path: Path) -> None:
    shells = tmp_path / "shells"
    command = (
        f'echo "$HOUSTON_ATTEMPT $$" >> {shells}; if [ "$HOUSTON_ATTEMPT" = 1 ]; then sleep 30; fi'
    )
    ref = submit(
        home,
        f"""
        name: killed-agent
        tasks:
          - {{id: a, agent: core/shell, retries: 0, inputs: {{command: '{command}'}}}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        _kill_shell_of_attempt(shells, 1)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    exits = _exits(home, ref, "a")
    assert [e.reason for e in exits] == ["crashed", "succeeded"]
    assert exits[0].signal == signal.SIGKILL
    path = MissionStore(home).locate(ref.id).path
    assert state_of(path, "a").crashes == 1
    assert state_of(path, "a").failures == 0  # retries: 0 was not spent


@pytest.mark.parametrize("where", ["task", "mission"])
def test_the_crash_cap_stops_a_task_and_names_its_crashes(
    home: Home, tmp_path: Path, where: str
) -> None:
    shells = tmp_path / "shells"
    command = f'echo "$HOUSTON_ATTEMPT $$" >> {shells}; sleep 30'
    task_cap = ", crash_cap: 1" if where == "task" else ""
    mission_cap = "crash_cap: 1\n" if where == "mission" else "crash_cap: 5\n"
    ref = submit(
        home,
        f"name: capped\n{mission_cap}tasks:\n"
        f"  - {{id: a, agent: core/shell{task_cap}, "
        f"inputs: {{command: '{command}'}}}}\n",
    )
    with engine_thread(home, missions={ref.id}) as engine:
        _kill_shell_of_attempt(shells, 1)
        _kill_shell_of_attempt(shells, 2)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "failed")
    path = MissionStore(home).locate(ref.id).path
    state = state_of(path, "a")
    assert state.state == "failed" and state.crashes == 2
    assert state.error == (
        "stopped by the crash cap (1) after 2 crashes: "
        "attempt 1: /bin/sh killed by signal 9; attempt 2: /bin/sh killed by signal 9"
    )
    assert taskfiles.attempt_numbers(path, "a") == [1, 2]


@pytest.mark.parametrize("ending", ["succeeds", "fails", "is killed from outside"])
def test_no_process_of_an_attempt_outlives_it(home: Home, tmp_path: Path, ending: str) -> None:
    """Background children, one of them in a session of its own (`setsid`): after the
    attempt, whatever its end, none is left, while the engine still runs."""
    kids, shells = tmp_path / "kids", tmp_path / "shells"
    tail = {"succeeds": "echo ok", "fails": "exit 1", "is killed from outside": "sleep 30"}
    command = (
        f'echo "$HOUSTON_ATTEMPT $$" >> {shells}; '
        f'if [ "$HOUSTON_ATTEMPT" = 1 ]; then '
        f"sleep 30 & echo $! >> {kids}; "
        f"(setsid sleep 31 & echo $! >> {kids}); "
        f"{tail[ending]}; fi"
    )
    ref = submit(
        home,
        f"""
        name: orphans
        on_failure: continue
        tasks:
          - {{id: a, agent: core/shell, retries: 1, inputs: {{command: '{command}'}}}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(lambda: len(_pids(kids)) == 2, what="the background children")
        if ending == "is killed from outside":
            _kill_shell_of_attempt(shells, 1)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
        left = [pid for pid in _pids(kids) if alive(pid)]
    assert left == []
    reasons = [e.reason for e in _exits(home, ref, "a")]
    expected = {
        "succeeds": ["succeeded"],
        "fails": ["failed", "succeeded"],
        "is killed from outside": ["crashed", "succeeded"],
    }
    assert reasons == expected[ending]
    assert outcome(home, ref) == ("COMPLETED", "succeeded")


def test_a_claim_refused_by_a_dead_owners_lock_is_recorded_and_is_no_crash(home: Home) -> None:
    ref = submit(
        home,
        """
        name: leftover-lock
        tasks:
          - {id: a, agent: core/shell, inputs: {command: 'true'}}
    """,
    )
    task_dir = taskfiles.task_dir(ref.path, "a")
    task_dir.mkdir(parents=True)
    dead = ProcessRecord(999999, "gone:1")
    assert claims.claim_task(task_dir, dead, None, 0)
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    exits = _exits(home, ref, "a")
    assert [(e.reason, e.error) for e in exits] == [
        ("interrupted", "could not claim the task: locked"),
        ("succeeded", None),
    ]
    path = MissionStore(home).locate(ref.id).path
    state = taskfiles.read_state(path, "a")
    assert state is None or state.crashes == 0


def test_what_a_killed_worker_started_dies_with_it_even_unnamed(home: Home, tmp_path: Path) -> None:
    """A descendant in a session of its own, without HOUSTON_WORK_DIR and not in agent.json,
    is still found by its worker's mark when the worker is SIGKILLed mid-attempt."""
    kid = tmp_path / "kid"
    command = (
        f'if [ "$HOUSTON_ATTEMPT" = 1 ]; then '
        f"(env -u HOUSTON_WORK_DIR setsid sleep 30 & echo $! > {kid}); sleep 30; fi"
    )
    ref = submit(
        home,
        f"""
        name: hidden-kid
        tasks:
          - {{id: a, agent: core/shell, inputs: {{command: '{command}'}}}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(lambda: _pids(kid), what="the hidden child")
        path = MissionStore(home).locate(ref.id).path
        owner = wait_for(lambda: claims.read_owner(taskfiles.task_dir(path, "a")), what="the lock")
        os.kill(owner.pid, signal.SIGKILL)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
        assert not alive(_pids(kid)[0])
    assert [e.reason for e in _exits(home, ref, "a")] == ["crashed", "succeeded"]
