"""How an attempt ended, judged from the worker's `done` message and the attempt's files.

Pure but for `left_behind` and `crash_history`, which read the attempt folders of one task.
"""

from __future__ import annotations

from datetime import UTC, datetime

from houston.core.taskstate import exit_reason
from houston.core.timestamps import iso
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.protocol import Done
from houston.home import taskfiles


def left_behind(m: MissionRun, t: TaskRun, run: Running) -> Done | None:
    """A dead worker's attempt whose agent succeeded, as the `done` it could not send: the
    task's accepted result.json, or the attempt's own result.json not yet accepted."""
    accepted = taskfiles.read_result(m.folder, t.id)
    if accepted is not None:
        return Done(ok=True, result=accepted, accepted=True)
    result = taskfiles.read_attempt_json(run.folder, "result.json")
    if result is not None:
        return Done(ok=True, result=result, accepted=False)
    return None


def attempt_reason(run: Running, done: Done | None) -> str:
    # Its worker died (done is None), or its agent was killed by a signal we did not send,
    # or the worker says the attempt's process was lost (a Ray node): a crash.
    return exit_reason(ok=done is not None and done.ok, stop_reason=run.stop_reason,
                       worker_died=done is None,
                       signalled=bool(done and (done.signal or done.crashed)),
                       environment=bool(done and done.environment))


def crash_cap_error(cap: int, crashes: int, history: list[str]) -> str:
    """What a task stopped by the crash cap says: the cap, and each crash that led there."""
    told = "; ".join(history) if history else "no record of them"
    return f"stopped by the crash cap ({cap}) after {crashes} crashes: {told}"


def crash_history(m: MissionRun, t: TaskRun) -> list[str]:
    """`attempt N: error` for each crashed attempt since the task last started afresh."""
    found = []
    for number in taskfiles.attempt_numbers(m.folder, t.id):
        record = taskfiles.read_attempt_json(
            taskfiles.attempt_dir(m.folder, t.id, number), "exit.json"
        )
        if record and record.get("reason") == "crashed":
            found.append(f"attempt {number}: {record.get('error') or 'crashed'}")
    return found[-(t.crashes):] if t.crashes else found


def iso_ts(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))
