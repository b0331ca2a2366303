"""How an attempt ended, judged from the worker's `done` message and the attempt's files.

Pure but for `left_behind` and `crash_history`, which read the attempt folders of one task,
`record_exit` and `save_worktree`, which write there.
"""

from __future__ import annotations

import sys

from houston.core.errors import HoustonError
from houston.core.taskstate import ExitReason, exit_reason
from houston.core.timestamps import iso_from_epoch
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.protocol import Done
from houston.home import attemptfiles, taskfiles
from houston.home.records import ExitRecord


def left_behind(m: MissionRun, t: TaskRun, run: Running) -> Done | None:
    """A dead worker's attempt whose agent succeeded, as the `done` it could not send: the
    task's accepted result.json, or the attempt's own result.json not yet accepted."""
    accepted = taskfiles.read_result(m.folder, t.id)
    if accepted is not None:
        return Done(ok=True, result=accepted, accepted=True)
    result = attemptfiles.read_result(run.path)
    if result is not None:
        return Done(ok=True, result=result, accepted=False)
    return None


def attempt_reason(run: Running, done: Done | None) -> str:
    # Its worker died (done is None), or its agent was killed by a signal we did not send,
    # or the worker says the attempt's process was lost (a Ray node): a crash.
    return exit_reason(
        ok=done is not None and done.ok,
        stop_reason=run.stop_reason,
        worker_died=done is None,
        signalled=bool(done and (done.signal or done.crashed)),
        environment=bool(done and done.environment),
    )


def crash_cap_error(cap: int, crashes: int, history: list[str]) -> str:
    """What a task stopped by the crash cap says: the cap, and each crash that led there."""
    told = "; ".join(history) if history else "no record of them"
    return f"stopped by the crash cap ({cap}) after {crashes} crashes: {told}"


def crash_history(m: MissionRun, t: TaskRun) -> list[str]:
    """`attempt N: error` for each crashed attempt since the task last started afresh."""
    found = []
    for number in taskfiles.attempt_numbers(m.folder, t.id):
        record = attemptfiles.read_exit(taskfiles.attempt_path(m.folder, t.id, number))
        if record and record.reason == ExitReason.CRASHED:
            found.append(f"attempt {number}: {record.error or 'crashed'}")
    return found[-(t.crashes) :] if t.crashes else found


def record_exit(
    run: Running,
    reason: str,
    error: str | None,
    done: Done | None,
    died: bool,
    times: tuple[float, float],
) -> None:
    """exit.json, unless the worker wrote the same: a dead worker wrote none (a `done`
    rebuilt from its files says so too), and a stopped attempt's reason is ours."""
    written = died and attemptfiles.read_exit(run.path) is not None
    said = None if died or done is None else done.written_reason
    if (died or reason != said) and not written:
        started, finished = times
        attemptfiles.write_exit(
            run.path,
            ExitRecord(
                reason,
                done.exit_code if done else None,
                done.signal if done else None,
                iso_from_epoch(started),
                iso_from_epoch(finished),
                round(finished - started, 6),
                error,
                worker=run.slot,
            ),
        )  # its lock went to a tombstone, not to claim/


def save_worktree(folder: str, reason: str) -> None:
    """The attempt's worker could not commit its worktree: do it here (never lose work)."""
    from houston.workspaces.workspace import salvage_attempt

    try:
        salvage_attempt(folder, reason)
    except (HoustonError, OSError) as exc:  # `houston gc` and the next attempt try again
        print(f"houston: could not save the worktree of {folder}: {exc}", file=sys.stderr)
