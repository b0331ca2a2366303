"""How an attempt ended, judged from the worker's `done` message and the attempt's files.

Pure but for `left_behind` and `crash_history`, which read the attempt folders of one task.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from houston.clock import iso
from houston.engine import taskfiles as tf
from houston.engine.mission_run import MissionRun, Running, TaskRun


def left_behind(m: MissionRun, t: TaskRun, run: Running) -> dict[str, Any] | None:
    """A dead worker's attempt whose agent succeeded, as the `done` it could not send: the
    task's accepted result.json, or the attempt's own result.json not yet accepted."""
    accepted = tf.read_result(m.folder, t.id)
    if accepted is not None:
        return {"ok": True, "result": accepted, "accepted": True}
    result = tf.read_attempt_json(run.folder, "result.json")
    if result is not None:
        return {"ok": True, "result": result, "accepted": False}
    return None


def attempt_reason(run: Running, msg: dict[str, Any] | None, ok: bool) -> str:
    if ok and run.stop_reason in (None, "cancelled", "interrupted"):
        return "succeeded"
    if run.stop_reason is not None:
        return run.stop_reason
    # Its worker died, or its agent was killed by a signal we did not send, or the
    # worker says the attempt's process was lost (a Ray node): a crash.
    if msg is None or msg.get("signal") or msg.get("crashed"):
        return "crashed"
    if msg.get("environment"):  # it failed on a full disk: run it again once there is room
        return "interrupted"
    return "failed"


def worker_reason(msg: dict[str, Any] | None) -> str | None:
    """The reason the worker wrote in exit.json (None: it wrote none)."""
    if msg is None:
        return None
    return str(msg.get("reason") or ("succeeded" if msg.get("ok") else "failed"))


def crash_cap_error(cap: int, crashes: int, history: list[str]) -> str:
    """What a task stopped by the crash cap says: the cap, and each crash that led there."""
    told = "; ".join(history) if history else "no record of them"
    return f"stopped by the crash cap ({cap}) after {crashes} crashes: {told}"


def crash_history(m: MissionRun, t: TaskRun) -> list[str]:
    """`attempt N: error` for each crashed attempt since the task last started afresh."""
    found = []
    for number in tf.attempt_numbers(m.folder, t.id):
        record = tf.read_attempt_json(tf.attempt_dir(m.folder, t.id, number), "exit.json")
        if record and record.get("reason") == "crashed":
            found.append(f"attempt {number}: {record.get('error') or 'crashed'}")
    return found[-(t.crashes):] if t.crashes else found


def iso_ts(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))
