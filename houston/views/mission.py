"""The one picture of a mission: `houston show` (and `show --json`), GET /api/missions/{id},
the dashboard's mission view and the OpenTelemetry export all read `mission_detail`.

Only reads files (docs/formats.md); a missing or half-written file is shown as what it
is (a mission dropped in by hand has no status.json, an attempt may still be running).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from houston.core.lifecycle import MissionState
from houston.core.taskstate import TaskState
from houston.home import attemptfiles, taskfiles
from houston.home.cancels import cancel_requested, cancel_requested_by
from houston.home.store import STATE_ORDER, MissionRef, MissionStore
from houston.home.taskfolder import TaskFolder, read_task_folders
from houston.views import logs
from houston.views.attempts import attempt_rows
from houston.views.explain import end_reason
from houston.views.tasks import (
    count_states,
    folder_time,
    list_row,
    read_outline,
    read_tasks,
    sum_usage,
    task_row,
)


def counts(store: MissionStore) -> dict[str, int]:
    """How many missions each state folder holds."""
    return {state.value: store.count(state) for state in STATE_ORDER}


def running_tasks(store: MissionStore) -> int:
    """How many tasks of EXECUTING missions run now, as `houston show` judges each (a task
    only declared in mission.yaml has not started: its folder is enough)."""
    busy = 0
    for ref in store.list((MissionState.EXECUTING,), limit=10_000):
        rows = (task_row(folder) for folder in read_task_folders(ref.path).values())
        busy += sum(1 for row in rows if row["state"] == TaskState.RUNNING)
    return busy


def mission_detail(
    store: MissionStore, ref: MissionRef, now: datetime | None = None
) -> dict[str, Any]:
    """status.json's fields, then what the mission folder says: name, age (at `now`),
    budget, tasks, attempts, failures, transitions and why it ended."""
    now = now or datetime.now(UTC)
    status = store.status(ref)
    outline = read_outline(ref.path)
    folders = read_task_folders(ref.path)
    tasks = read_tasks(ref.path, outline, folders)
    hand_made = not status.get("created")
    row = list_row(ref, status, outline if hand_made else None, now, folder_time(ref.path))
    cancel_by = cancel_requested_by(ref.path)
    detail = {
        **status,
        "name": row["name"],
        "created": row["created"],
        "age": row["age"],
        "path": str(ref.path),
        "budget": checked_budget(outline["budget"] if outline else None),
        "cancel_requested": cancel_requested(ref.path),
        "cancel_by": cancel_by,
        "task_counts": count_states(tasks),
        "task_usage": sum_usage(t["usage"] for t in tasks),
        "tasks": tasks,
        "transitions": store.transitions(ref),
        "attempts": attempt_rows(folders.values()),
        "failures": failures(ref.path, tasks, folders),
    }
    detail["end"] = end_reason(detail, detail["transitions"], tasks, detail["budget"], cancel_by)
    return detail


def checked_budget(raw: Any) -> dict[str, Any]:
    """The limits mission.yaml sets, as the mission schema reads them (`5m` is 300 seconds),
    without the ones it leaves unset; {} when it sets none or they do not validate."""
    if not isinstance(raw, dict) or not raw:
        return {}
    from pydantic import ValidationError

    from houston.mission import Budget

    try:
        return Budget.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError:  # a file dropped in by hand: show no limits rather than fail
        return {}


def failures(
    mission_path: Path, tasks: list[dict[str, Any]], folders: dict[str, TaskFolder]
) -> list[dict[str, Any]]:
    """Each failed task: its error and the tail of its latest attempt's stderr."""
    found = []
    for task in tasks:
        if task.get("state") != TaskState.FAILED:
            continue
        folder = folders.get(str(task["id"]))
        latest = max(folder.attempts) if folder and folder.attempts else 0
        exit_info = (folder.attempts[latest].get("exit") if folder and latest else None) or {}
        attempt = taskfiles.attempt_dir(mission_path, str(task["id"]), latest)
        stderr = logs.read_tail(Path(attemptfiles.log_path(attempt, "stderr")))
        found.append(
            {
                "task": task["id"],
                "attempt": latest,
                "error": task.get("error") or exit_info.get("error"),
                "reason": exit_info.get("reason"),
                "code": exit_info.get("code"),
                "stderr": logs.tail_lines(stderr, logs.STDERR_TAIL_LINES),
            }
        )
    return found
