"""Read-only views of the store for the HTTP API: mission summaries, details, task logs.

Everything here only reads files (docs/formats.md); the server never
writes a mission file. Task summaries come from `houston.taskview.read_tasks`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from houston import taskview
from houston.core.errors import NotFoundError, UsageError
from houston.core.ids import SAFE_ID
from houston.explain import end_reason
from houston.home.store import STATE_ORDER, MissionRef, MissionStore
from houston.server import detail as attempts

LOG_TAIL_BYTES = 64 * 1024
LOG_STREAMS = ("stdout", "stderr")
MISSION_LOG_FILE_BYTES = 256 * 1024  # per attempt and stream in the whole-mission log


def counts(store: MissionStore) -> dict[str, int]:
    return {state.value: store.count(state) for state in STATE_ORDER}


def mission_summary(store: MissionStore, ref: MissionRef) -> dict[str, Any]:
    return store.status(ref)


def mission_detail(store: MissionStore, ref: MissionRef) -> dict[str, Any]:
    detail = mission_summary(store, ref)
    detail["budget"] = read_budget(ref.path)
    detail["tasks"] = read_tasks(ref.path)
    detail["transitions"] = store.transitions(ref)
    detail["attempts"] = attempts.read_attempts(ref.path)
    detail["failures"] = attempts.failures(ref.path, detail["tasks"])
    detail["cancel_requested"] = _cancel_by(ref.path)
    detail["end"] = end_reason(detail, detail["transitions"], detail["tasks"], detail["budget"],
                               detail["cancel_requested"])
    return detail


def _cancel_by(mission_path: Path) -> str | None:
    """Who asked a running mission to stop (`cancel.request` names them)."""
    try:
        request = json.loads((mission_path / "cancel.request").read_bytes())
    except (OSError, ValueError):
        return None
    return str(request.get("by") or "someone") if isinstance(request, dict) else "someone"


def lane_name(slot: Any) -> str:
    """As the timeline names its lanes: the +1 slot runs initializers."""
    return "the +1 slot" if slot == 0 else "an unknown worker" if slot is None else f"worker {slot}"


def mission_log(mission_path: Path, per_file: int = MISSION_LOG_FILE_BYTES) -> str:
    """Every attempt's stdout and stderr, in the order the attempts started, each line
    marked `[task #n]` (stdout) or `[task #n err]` (stderr), after a `[task #n --]` line
    with the attempt's start, end and exit reason."""
    parts: list[str] = []
    for row in attempts.read_attempts(mission_path):
        folder = mission_path / "tasks" / row["task"] / "attempts" / str(row["attempt"])
        ended = f", ended {row['finished']}: {row['reason']}" if row["finished"] else ""
        parts.append(f"[{row['task']} #{row['attempt']} --] started {row['started']} on "
                     f"{lane_name(row['worker'])}{ended}")
        for stream, mark in (("stdout", ""), ("stderr", " err")):
            data = attempts.read_tail(folder / f"{stream}.log", per_file)
            prefix = f"[{row['task']} #{row['attempt']}{mark}] "
            parts.extend(prefix + line for line in data.decode("utf-8", "replace").splitlines())
    return "\n".join(parts) + ("\n" if parts else "")


def read_budget(mission_path: Path) -> dict[str, Any]:
    """The mission's budget as submitted (limits for the dashboard's gauges)."""
    try:
        text = (mission_path / "mission.yaml").read_bytes()
    except OSError:
        return {}
    try:
        from houston.mission import load_mission

        budget = load_mission(text, "mission.yaml").budget
        return budget.model_dump() if budget is not None else {}
    except Exception:  # a file dropped in by hand: show no limits rather than fail
        return {}


def read_tasks(mission_path: Path) -> list[dict[str, Any]]:
    """The store's task view (running tasks carry their worker slot)."""
    return taskview.read_tasks(mission_path)


def task_log(
    ref: MissionRef, task: str, *, attempt: int | None, stream: str, tail_bytes: int
) -> dict[str, Any]:
    """The end of one attempt's stdout or stderr (latest attempt unless given)."""
    if not SAFE_ID.match(task):
        raise UsageError(f"{task!r} is not a task id")
    if stream not in LOG_STREAMS:
        raise UsageError(f"stream must be one of {', '.join(LOG_STREAMS)}")
    folder = ref.path / "tasks" / task
    if not folder.is_dir():
        raise NotFoundError(f"mission {ref.id} has no task {task}")
    if attempt is None:
        attempt = taskview.latest_attempt(folder)
    path = folder / "attempts" / str(attempt) / f"{stream}.log"
    text, size = _tail(path, max(0, min(tail_bytes, 1024 * 1024)))
    return {
        "mission": ref.id,
        "task": task,
        "attempt": attempt,
        "stream": stream,
        "size": size,
        "text": text,
    }


def _tail(path: Path, limit: int) -> tuple[str, int]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except (FileNotFoundError, NotADirectoryError):
        return "", 0
    return data.decode("utf-8", errors="replace"), size
