"""The crash-recovery sweep (docs/engine.md, "Crash recovery"), run at engine start,
every few seconds, and by `houston recover`. Idempotent: a second run finds nothing to do.

For each mission in EXECUTING whose engine is dead (engine.json names a process that is
gone or whose start token differs; without engine.json, the pid that recorded the claim
in transitions.jsonl), under the home's recovery FileLock:
1. every task lock whose owner is dead is broken (tombstone rename + nonce recheck) after
   the owner's agent process group is stopped, so no orphan survives beside a new attempt;
2. an attempt that left a complete result.json is accepted (the task never runs again);
   any other attempt is marked crashed and its task goes back to pending;
3. the mission moves EXECUTING -> COMMITTED (reason `recovered`) for any engine to claim.
Liveness comes from the process table only; clocks are never used to declare death.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import psutil

from houston.core.errors import ConflictError
from houston.core.lifecycle import MissionState, Reason
from houston.core.taskstate import ExitReason, TaskState
from houston.core.timestamps import parse_epoch
from houston.engine.leftovers import remove_dead_writers_temp_files, remove_leftovers
from houston.engine.liveness import (
    engine_mark,
    is_alive,
    kill_marked_processes,
    stop_agent,
)
from houston.home import attemptfiles, claims, fsio, killpoints, move_repair, taskfiles
from houston.home.engine_record import (
    RunningEngine,
    read_engine_record,
    remove_engine_record,
    running_engines,
)
from houston.home.layout import Home, trail_file
from houston.home.records import ExitRecord, OwnerRecord, ProcessRecord, StateRecord
from houston.home.store import MissionStore
from houston.runners.processes import kill_attempt_processes


def engine_alive(mission_dir: Path, me: ProcessRecord | None = None) -> bool:
    """True if the engine of an EXECUTING mission may still be running it.

    Both witnesses are asked: engine.json (written just after the claim) and the pid that
    recorded the claim in transitions.jsonl (there before engine.json, and newer than an
    engine.json a dead earlier owner left behind). Either one alive = alive.
    """
    record = read_engine_record(mission_dir)
    if record is not None:
        if me is not None and record.pid == me.pid and record.start_token == me.start_token:
            return True
        if is_alive(record):
            return True
    return _claimer_alive(mission_dir)


def _claimer_alive(mission_dir: Path) -> bool:
    """No engine.json: the claim was recorded but the engine died before writing it."""
    trail = fsio.read_lines(trail_file(mission_dir))
    claims_ = [e for e in trail if e.get("to") == MissionState.EXECUTING.value]
    if not claims_:
        return False
    entry = claims_[-1]
    try:
        proc = psutil.Process(int(entry["pid"]))
        ts = parse_epoch(entry["ts"])
        if ts is None:
            return False
        # A process created after the claim was written cannot be the claimer.
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= ts + 1.0
    except psutil.AccessDenied:
        return True
    except (psutil.Error, KeyError, ValueError, TypeError):
        return False


def sweep(
    home: Home, *, me: ProcessRecord | None = None, grace: float = 1.0, full: bool = True
) -> list[dict[str, Any]]:
    """One recovery pass; returns what it did (one dict per action).

    Every pass finishes the moves a killed mover left half-recorded; a `full` pass (at
    engine start, `houston recover`) also repairs every status.json that names another
    state than its folder and removes stale staging folders and temp files."""
    store = MissionStore(home)
    actions = move_repair.repair_moves(store)
    if full:
        actions += move_repair.repair_statuses(store)
        actions += remove_leftovers(home)
    for mission_id in sorted(store.ids_in(MissionState.EXECUTING)):
        folder = home.mission_dir(MissionState.EXECUTING, mission_id)
        if engine_alive(folder, me):
            continue
        with claims.recovery_lock(home):
            found = _recover_mission(store, mission_id, me, grace)
        if found is not None:
            actions.append(found)
    return actions


def _recover_mission(
    store: MissionStore, mission_id: str, me: ProcessRecord | None, grace: float
) -> dict[str, Any] | None:
    """Requeue a dead engine's mission (under the recovery lock); what was done, or None
    if its engine turned out alive or another recoverer got there first."""
    folder = store.home.mission_dir(MissionState.EXECUTING, mission_id)
    # Under the stripe lock a claimer has finished writing its claim entry.
    with store.stripe_lock(mission_id):
        if not folder.is_dir() or engine_alive(folder, me):
            return None
    _kill_dead_engines_processes(folder)
    done = [recover_task(folder, t, grace) for t in taskfiles.task_ids(folder)]
    remove_engine_record(folder)
    try:
        store.move(
            mission_id,
            MissionState.EXECUTING,
            MissionState.COMMITTED,
            Reason.RECOVERED,
            detail={"by": os.getpid()},
        )
    except ConflictError:
        return None
    return {"action": "requeued_mission", "mission": mission_id, "tasks": [d for d in done if d]}


def engine_records(home: Home) -> list[tuple[Path, RunningEngine | None, bool]]:
    """Each `run/engine-<pid>.json`: its path, its record (None if unreadable), alive?"""
    return [
        (path, record, record is not None and is_alive(record))
        for path, record in running_engines(home)
    ]


def remove_dead_engine_records(home: Home) -> list[int]:
    """Delete the records of engines that are gone (a clean stop removes its own; a killed
    engine leaves it). The pids whose record was removed (-1: unreadable)."""
    removed = []
    for path, record, alive in engine_records(home):
        if alive:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(record.pid if record else -1)
    return removed


def recover_task(mission_dir: Path, task_id: str, grace: float) -> dict[str, Any] | None:
    """Make one task of a dead engine's mission safe to run again; what was done.

    Record first, release second: the attempt's exit.json and the task's state.json are
    written before its lock is broken, so a recoverer killed in between leaves a lock the
    next sweep breaks, never a lost record. An engine's death is not the task's fault:
    its crash counter is left alone (exit reason `interrupted`).
    """
    task_dir = taskfiles.task_dir(mission_dir, task_id)
    claims.sweep_tombstones(task_dir)
    state = taskfiles.read_state(mission_dir, task_id)
    locked = claims.is_locked(task_dir)
    numbers = taskfiles.attempt_numbers(mission_dir, task_id)
    if not locked and (state is None or state.state != TaskState.RUNNING):
        return _record_unclaimed(mission_dir, task_id, numbers[-1] if numbers else 0)
    owner = claims.read_owner(task_dir) if locked else None
    # A young lock (no owner.json yet) belongs to the newest attempt folder.
    attempt = (owner.attempt if owner else 0) or max([state.attempt if state else 0, *numbers])
    folder = taskfiles.attempt_dir(mission_dir, task_id, attempt)
    stopped = _stop_attempt(folder, owner, attempt, grace)
    for written_by_the_dead in (task_dir, folder):
        remove_dead_writers_temp_files(written_by_the_dead)
    accepted = _accept_left_result(mission_dir, task_id, folder)
    if not accepted and taskfiles.read_result(mission_dir, task_id) is None:
        _requeue(mission_dir, task_id, attempt, state)
    killpoints.reached("recover.recorded")
    if locked:
        claims.break_stale_lock(task_dir, owner.nonce if owner else None)
    return {"task": task_id, "attempt": attempt, "accepted": accepted, "stopped_agent": stopped}


def _requeue(mission_dir: Path, task_id: str, attempt: int, state: StateRecord | None) -> None:
    """Record first: the attempt ended `interrupted` (no crash counted), the task pending."""
    folder = taskfiles.attempt_dir(mission_dir, task_id, attempt)
    if attempt and attemptfiles.read_exit(folder) is None:
        attemptfiles.write_exit(folder, ExitRecord(ExitReason.INTERRUPTED, error="its engine died"))
    taskfiles.write_state(
        mission_dir,
        task_id,
        TaskState.PENDING,
        attempt,
        error="requeued: its engine died",
        failures=state.failures if state else 0,
        crashes=state.crashes if state else 0,
    )


def _kill_dead_engines_processes(mission_dir: Path) -> None:
    """Whatever the dead engine's workers started is an orphan now (their marks)."""
    record = read_engine_record(mission_dir)
    if record is not None and record.pid and record.start_token:
        kill_marked_processes(engine_mark(record))


def _record_unclaimed(mission_dir: Path, task_id: str, attempt: int) -> dict[str, Any] | None:
    """An attempt folder without exit.json and without a lock: its worker died (with its
    engine) between making the folder and claiming the task. It never began: recorded as
    interrupted, so no attempt is left without a record."""
    folder = taskfiles.attempt_dir(mission_dir, task_id, attempt)
    if not attempt or attemptfiles.read_exit(folder) is not None:
        return None
    attemptfiles.write_exit(
        folder, ExitRecord(ExitReason.INTERRUPTED, error="its engine died before it began")
    )
    return {"task": task_id, "attempt": attempt, "accepted": False, "stopped_agent": False}


def _stop_attempt(folder: Path, owner: OwnerRecord | None, attempt: int, grace: float) -> bool:
    """Stop every process of the attempt: its recorded agent's group, whatever still
    carries its HOUSTON_WORK_DIR (unrecorded, or escaped its group), a live owner."""
    agent = attemptfiles.read_agent(folder)
    stopped = bool(agent and stop_agent(agent, grace=grace))
    if attempt:
        stopped = kill_attempt_processes(str(folder)) > 0 or stopped
    if owner is not None and is_alive(owner):
        stopped = stop_agent(owner, grace=grace) or stopped
    return stopped


def _accept_left_result(mission_dir: Path, task_id: str, folder: Path) -> bool:
    result = attemptfiles.read_result(folder)
    if result is None or taskfiles.read_result(mission_dir, task_id) is not None:
        return False
    taskfiles.accept_result(mission_dir, task_id, result)
    state = taskfiles.read_state(mission_dir, task_id)
    taskfiles.write_state(mission_dir, task_id, TaskState.SUCCEEDED, state.attempt if state else 0)
    if attemptfiles.read_exit(folder) is None:
        attemptfiles.write_exit(folder, ExitRecord(ExitReason.SUCCEEDED, code=0))
    return True
