"""Crash recovery (docs/engine.md, "Crash recovery") with real processes killed by SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import (
    QUICK_UNDER_LOAD,
    engine_thread,
    exit_of,
    houston_process,
    lines,
    make_test_package,
    outcome,
    state_of,
    submit,
    wait_for,
)
from helpers.procs import alive

from houston.core.lifecycle import MissionState, Reason
from houston.engine import liveness
from houston.engine.recovery import sweep
from houston.home import attemptfiles, claims, fsio, taskfiles
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.records import ProcessRecord, SpecRecord
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_killed_worker_is_requeued_and_its_agent_never_survives(home: Home, tmp_path: Path) -> None:
    first = tmp_path / "first.pid"
    # attempt 2 succeeds only if attempt 1's agent is gone (or a zombie awaiting its reaper)
    command = (
        f'if [ "$HOUSTON_ATTEMPT" = 1 ]; then echo $$ > {first}; sleep 30; '
        f'else s=$(ps -o stat= -p "$(cat {first})" | cut -c1); '
        f'[ -z "$s" ] || [ "$s" = Z ]; fi'
    )
    ref = submit(
        home,
        f"""
        name: crashy
        tasks:
          - {{id: a, agent: core/shell, retries: 0, inputs: {{command: '{command}'}}}}
    """,
    )
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(first.exists, what="the first attempt's agent")
        owner = wait_for(
            lambda: claims.read_owner(taskfiles.task_dir(store.locate(ref.id).path, "a"))
        )
        os.kill(owner.pid, signal.SIGKILL)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = store.locate(ref.id).path
    exits = [exit_of(taskfiles.attempt_dir(path, "a", n)) for n in (1, 2)]
    assert [e.reason for e in exits] == ["crashed", "succeeded"]
    assert state_of(path, "a").crashes == 1  # retries: 0, yet the crash was free
    assert not alive(int(first.read_text()))


def test_killed_python_worker_is_requeued(home: Home, tmp_path: Path) -> None:
    make_test_package(home)
    runs = tmp_path / "runs"
    ref = submit(
        home,
        f"""
        name: crashy-python
        tasks:
          - {{id: a, agent: t/record, inputs: {{file: "{runs}", sleep: 1}}}}
    """,
    )
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(lambda: lines(runs) == ["a"], what="the first run")
        owner = claims.read_owner(taskfiles.task_dir(store.locate(ref.id).path, "a"))
        assert owner is not None
        os.kill(owner.pid, signal.SIGKILL)
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert lines(runs) == ["a", "a"]


def test_a_job_queued_behind_a_killed_one_runs_once_as_a_fresh_attempt(
    home: Home, tmp_path: Path
) -> None:
    """Quick tasks are queued in a busy worker's pipe; when that worker dies, the running
    task is a crash (a new attempt) and the queued one never started (no attempt used)."""
    runs, go = tmp_path / "runs", tmp_path / "go"
    ref, ids = _queue_behind_b(home, runs, go)
    store = MissionStore(home)
    # retract_after: long, so that the queued job stays where it is until the kill.
    with engine_thread(home, missions={ref.id}, retract_after=60.0, **QUICK_UNDER_LOAD) as engine:
        # b must have begun (written its line) before the kill: a job that never began
        # is not a crash and would not run twice.
        pid, queued = wait_for(
            lambda: "b" in lines(runs) and _worker_of_b(engine, ref.id),
            what="b running with a task behind it",
        )
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: lines(runs).count("b") == 2, what="b's second attempt")
        go.touch()
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert sorted(lines(runs)) == sorted([*ids, "b"])
    path = store.locate(ref.id).path
    assert exit_of(taskfiles.attempt_dir(path, "b", 1)).reason == "crashed"
    assert state_of(path, "b").crashes == 1
    assert taskfiles.attempt_numbers(path, queued) == [1]
    assert taskfiles.read_state(path, queued) is None  # no failure, no crash: nothing to record


def _queue_behind_b(home: Home, runs: Path, go: Path) -> tuple[Any, list[str]]:
    """Eight quick tasks (the agent gets known as quick), b (waits for `go`), four more."""
    make_test_package(home)
    ids = [f"a{i}" for i in range(8)] + ["b"] + [f"c{i}" for i in range(4)]
    tasks = "".join(
        f'  - {{id: {i}, agent: t/record, inputs: {{file: "{runs}"'
        + (f', wait: "{go}"' if i == "b" else "")
        + "}}\n"
        for i in ids
    )
    return submit(home, f"name: queued\ntasks:\n{tasks}"), ids


def _worker_of_b(engine: Any, mission: str) -> tuple[int, str] | None:
    """(pid, queued task) of a worker running b with a task queued behind it."""
    for worker in list(engine.pool.workers.values()):
        jobs = list(engine.queues.jobs(worker))
        if len(jobs) == 2 and jobs[0] == (mission, "b"):
            return worker.pid, jobs[1][1]
    return None


def test_a_job_queued_behind_a_slow_one_is_taken_back_and_runs_elsewhere(
    home: Home, tmp_path: Path
) -> None:
    """b's agent looked quick, so a task was queued behind it; b turns out slow: the task
    is taken back from b's worker and runs on the other one while b still waits."""
    runs, go = tmp_path / "runs", tmp_path / "go"
    ref, ids = _queue_behind_b(home, runs, go)
    store = MissionStore(home)
    # Taken back after 3 s: longer than quick_below, as with the defaults (0.2 s > 50 ms),
    # so that a job taken back is never queued behind b again.
    with engine_thread(home, missions={ref.id}, retract_after=3.0, **QUICK_UNDER_LOAD) as engine:
        _pid, queued = wait_for(lambda: _worker_of_b(engine, ref.id), what="a task behind b")
        wait_for(lambda: all(c in lines(runs) for c in ids[9:]), what="every c, b waiting")
        assert not go.exists() and lines(runs).count("b") == 1
        go.touch()
        wait_for(lambda: ref.id in engine.finished, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert sorted(lines(runs)) == sorted(ids)  # every task ran once
    path = store.locate(ref.id).path
    assert taskfiles.attempt_numbers(path, queued) == [1]
    assert taskfiles.attempt_numbers(path, "b") == [1]
    starts = [
        e
        for e in EventLog(home.events).read()
        if e["type"] == "attempt.start" and e["task"] == queued
    ]
    assert len(starts) == 1  # announced once, where it really ran


def _mission_of_records(home: Home, runs: Path, count: int, sleep: float) -> str:
    tasks = "\n".join(
        f'  - {{id: t{i:02d}, agent: t/record, inputs: {{file: "{runs}", sleep: {sleep}}}}}'
        for i in range(count)
    )
    return f"name: long\ntasks:\n{tasks}\n"


@pytest.mark.parametrize("finisher", ["serve", "recover --finish"])
def test_killed_engine_is_recovered_and_no_completed_task_runs_again(
    home: Home, tmp_path: Path, finisher: str
) -> None:
    make_test_package(home)
    runs, agent_pid = tmp_path / "runs", tmp_path / "agent.pid"
    text = _mission_of_records(home, runs, 8, 0.15) + (
        f"  - {{id: shell, agent: core/shell, inputs: {{command: 'echo $$ > {agent_pid}; "
        f"if [ $HOUSTON_ATTEMPT = 1 ]; then sleep 30; fi'}}}}\n"
    )
    ref = submit(home, text)
    engine = houston_process(home, "serve", "--until-idle", "--no-ui", "--workers", "2")
    try:
        wait_for(lambda: len(lines(runs)) >= 3 and agent_pid.exists(), what="progress")
    finally:
        _kill(engine)
    store = MissionStore(home)
    path = store.locate(ref.id).path
    done_before = {
        t for t in taskfiles.task_ids(path) if taskfiles.read_result(path, t) is not None
    }
    first_agent = int(agent_pid.read_text())
    assert alive(first_agent)  # its own session outlived the engine
    if finisher == "serve":
        recover = houston_process(home, "recover", "--json")
        out, _ = recover.communicate(timeout=30)
        assert recover.returncode == 0
        report = json.loads(out)["actions"]
        assert [a["mission"] for a in report] == [ref.id]
        assert not alive(first_agent)
        assert store.locate(ref.id).state is MissionState.COMMITTED
        assert sweep(home) == []  # idempotent
        command = ["serve", "--until-idle", "--no-ui", "--workers", "2"]
    else:
        command = ["recover", "--finish", "--workers", "2"]
    finishing = houston_process(home, *command)
    try:
        assert finishing.wait(timeout=120) == 0
    finally:
        _kill(finishing)
    assert not alive(first_agent)
    counts = {t: lines(runs).count(t) for t in set(lines(runs))}
    assert done_before and all(counts[t] == 1 for t in done_before)
    assert set(counts) == {f"t{i:02d}" for i in range(8)}
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert taskfiles.attempt_numbers(store.locate(ref.id).path, "shell") == [1, 2]


def _fake_executing(
    home: Home, engine: dict[str, object], task_owner: dict[str, object] | None
) -> str:
    """A mission in EXECUTING claimed by `engine`, with task `a` locked by `task_owner`."""
    store = MissionStore(home)
    task = "{id: a, agent: core/shell, inputs: {command: 'true'}}"
    ref = submit(home, f"name: fake\ntasks:\n  - {task}\n")
    ref = store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    fsio.write_json_atomic(ref.path / "engine.json", {**engine, "since": "2000-01-01T00:00:00Z"})
    # The claim entry names the engine's pid, written long before any process alive now.
    trail = ref.path / "transitions.jsonl"
    entries = [json.loads(line) for line in trail.read_text().splitlines()]
    entries[-1].update(pid=engine["pid"], ts="2000-01-01T00:00:00.000Z")
    trail.write_text("".join(json.dumps(e) + "\n" for e in entries))
    taskfiles.write_spec(ref.path, SpecRecord("a", "core/shell", {"command": "true"}))
    taskfiles.write_state(ref.path, "a", "running", 1)
    taskfiles.attempt_dir(ref.path, "a", 1).mkdir(parents=True)
    if task_owner is not None:
        owner = ProcessRecord.parse(task_owner)
        assert owner is not None
        assert claims.claim_task(taskfiles.task_dir(ref.path, "a"), owner, None, 1)
    return ref.id


def test_a_live_pid_with_another_start_token_is_dead(home: Home) -> None:
    me = liveness.my_identity().encode()
    token = me["start_token"]
    assert isinstance(token, str)
    impostor = {**me, "start_token": token + "0"}
    assert liveness.is_alive(me)
    assert not liveness.is_alive(impostor)
    mission = _fake_executing(home, impostor, impostor)
    actions = sweep(home)
    assert [a["mission"] for a in actions] == [mission]
    path = MissionStore(home).locate(mission).path
    assert not claims.is_locked(taskfiles.task_dir(path, "a"))
    assert state_of(path, "a").state == "pending"
    # An engine's death is not the task's fault: no crash is counted against it.
    assert state_of(path, "a").crashes == 0
    exit_record = exit_of(taskfiles.attempt_dir(path, "a", 1))
    assert exit_record.reason == "interrupted"


def test_an_agent_its_dead_worker_never_recorded_is_found_by_its_attempt(home: Home) -> None:
    """A worker killed between starting a command and writing agent.json leaves an agent
    no record names; recovery finds it by HOUSTON_WORK_DIR and stops it."""
    me = liveness.my_identity().encode()
    token = me["start_token"]
    assert isinstance(token, str)
    impostor = {**me, "start_token": token + "0"}
    mission = _fake_executing(home, impostor, impostor)
    work_dir = str(taskfiles.attempt_dir(MissionStore(home).locate(mission).path, "a", 1))
    env = dict(os.environ, HOUSTON_WORK_DIR=work_dir)
    with subprocess.Popen(["sleep", "30"], env=env, start_new_session=True) as orphan:
        try:
            (action,) = sweep(home)
            assert action["tasks"][0]["stopped_agent"] is True
            assert orphan.wait(timeout=10) == -signal.SIGKILL
        finally:
            if orphan.poll() is None:
                orphan.kill()


def test_a_wall_clock_jump_never_reaps_a_live_owner(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        ident = liveness.identity_of(sleeper.pid)
        assert ident is not None
        mission = _fake_executing(home, ident.encode(), ident.encode())
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 30 * 86400)  # a month asleep
        assert sweep(home) == []
        path = MissionStore(home).locate(mission).path
        assert path.parent.name == "EXECUTING"
        assert claims.is_locked(taskfiles.task_dir(path, "a"))
    finally:
        sleeper.kill()
        sleeper.wait()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "events" not in p.parts and "locks" not in p.parts
    }


def test_recovery_twice_changes_nothing_the_second_time(home: Home) -> None:
    dead = {"pid": 999999, "start_token": "gone:1", "host": None, "boot_id": None}
    _fake_executing(home, dead, dead)
    assert len(sweep(home)) == 1
    before = _tree(home.root)
    assert sweep(home) == []
    assert _tree(home.root) == before


def test_two_engines_on_one_home_never_run_a_task_twice(home: Home, tmp_path: Path) -> None:
    make_test_package(home)
    runs = tmp_path / "runs"
    ids = []
    for m in range(8):
        tasks = "\n".join(
            f'  - {{id: m{m}-t{i:02d}, agent: t/record, inputs: {{file: "{runs}"}}}}'
            for i in range(25)
        )
        ids.append(submit(home, f"name: many-{m}\ntasks:\n{tasks}\n").id)
    engines = [
        houston_process(home, "serve", "--until-idle", "--no-ui", "--workers", "2")
        for _ in range(2)
    ]
    try:
        for engine in engines:
            engine.wait(timeout=120)
    finally:
        for engine in engines:
            _kill(engine)
    recorded = lines(runs)
    assert len(recorded) == 200
    assert len(set(recorded)) == 200
    store = MissionStore(home)
    for mission_id in ids:
        ref = store.locate(mission_id)
        assert store.status(ref)["outcome"] == "succeeded"
        claimed = [e for e in store.transitions(ref) if e.get("reason") == "claimed"]
        assert len(claimed) == 1


def test_a_fresh_claim_is_not_reaped_for_a_stale_engine_json(home: Home) -> None:
    """A new engine claimed the mission but has not rewritten engine.json yet."""
    store = MissionStore(home)
    ref = submit(
        home, "name: fresh\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'true'}}\n"
    )
    ref = store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    dead = {"pid": 999999, "start_token": "gone:1", "host": None, "boot_id": None}
    fsio.write_json_atomic(ref.path / "engine.json", dead)
    assert sweep(home) == []  # the claim entry names this (live) process
    assert store.locate(ref.id).state is MissionState.EXECUTING


def test_engines_claim_only_what_they_have_room_for(home: Home, tmp_path: Path) -> None:
    """Two engines of one worker each on six waiting missions: each holds one at a time."""
    make_test_package(home)
    runs, go = tmp_path / "runs", tmp_path / "go"
    ids = [
        submit(
            home,
            f"name: wait-{i}\ntasks:\n  - {{id: a, agent: t/record, "
            f'inputs: {{file: "{runs}", wait: "{go}"}}}}\n',
        ).id
        for i in range(6)
    ]
    store = MissionStore(home)
    engines = [
        houston_process(home, "serve", "--until-idle", "--no-ui", "--workers", "1")
        for _ in range(2)
    ]
    try:
        wait_for(lambda: len(lines(runs)) == 2, timeout=60, what="one task per engine")
        assert store.count(MissionState.EXECUTING) == 2
        assert store.count(MissionState.COMMITTED) == 4
        go.touch()
        for engine in engines:
            assert engine.wait(timeout=120) == 0
    finally:
        for engine in engines:
            _kill(engine)
    claimers = set()
    for mission_id in ids:
        ref = store.locate(mission_id)
        assert store.status(ref)["outcome"] == "succeeded"
        claimers |= {e["pid"] for e in store.transitions(ref) if e.get("reason") == "claimed"}
    assert claimers == {engine.pid for engine in engines}


def test_an_attempt_its_worker_never_claimed_gets_a_record(home: Home) -> None:
    """The engine and its worker died between `mkdir attempts/<n>` and the claim: no lock
    names the attempt, yet it must not stay without exit.json."""
    dead = {"pid": 999999, "start_token": "gone:1", "host": None, "boot_id": None}
    mission = _fake_executing(home, dead, None)
    path = MissionStore(home).locate(mission).path
    taskfiles.write_state(path, "a", "pending", 0)
    (action,) = sweep(home)
    assert action["tasks"] == [
        {"task": "a", "attempt": 1, "accepted": False, "stopped_agent": False}
    ]
    path = MissionStore(home).locate(mission).path
    record = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert record is not None and record.reason == "interrupted"
    assert sweep(home) == []
