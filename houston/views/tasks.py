"""Read-only views of a mission's tasks and of its list row.

Used by `houston ls`/`show`, the HTTP API and the dashboard (the whole picture of one
mission is houston.views.mission). Nothing here writes.
The task files (docs/formats.md) are written by the engine and may be missing or half made
(a mission dropped in by hand has no `tasks/` yet; an attempt may still be running):
every reader tolerates that. Parsing is pure (`summarize_task`, `outline_tasks`,
`list_row`); the `read_*` functions only gather files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from houston.core.ids import id_time
from houston.core.taskstate import TaskState, count_by_state, state_from_records
from houston.core.timestamps import iso_seconds, parse_time
from houston.home.layout import spec_file
from houston.home.store import MissionRef, MissionStore
from houston.home.taskfolder import TaskFolder, read_task_folders

_MAX_SPEC_BYTES = 1024 * 1024


# -- pure -------------------------------------------------------------------------------


def summarize_task(
    task_id: str,
    spec: dict[str, Any] | None,
    state: dict[str, Any] | None,
    attempts: dict[int, dict[str, Any]],
    has_result: bool,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One task's row from its files. `attempts` maps n -> {"exit": ..., "usage": ...};
    `owner` is lock/owner.json. result.json means succeeded, a held lock means running,
    else state.json says (it is written when a task fails, is requeued or is skipped)."""
    spec = spec or {}
    latest = max(attempts) if attempts else 0
    exit_info = attempts.get(latest, {}).get("exit") or {}
    task_state = state_from_records(
        has_result=has_result, locked=bool(owner), saved=(state or {}).get("state")
    )
    record = _progress_record(state, exit_info, latest, has_result, owner)
    return {
        "id": task_id,
        "agent": _text(spec.get("agent"), ""),
        "state": task_state,
        "attempt": max(_int(record.get("attempt"), latest), latest),
        "attempts": len(attempts),
        "duration": _number(exit_info.get("duration")),
        "usage": sum_usage(a.get("usage") for a in attempts.values()),
        "error": record.get("error") if task_state != TaskState.SUCCEEDED else None,
        "initializer": spec.get("initializer") is True,
        "added_by": spec.get("added_by"),
        "needs": spec.get("needs") if isinstance(spec.get("needs"), list) else [],
        "updated": record.get("updated"),
        "worker": _slot(record.get("worker")) if task_state == TaskState.RUNNING else None,
        **_coding(attempts),
    }


def _progress_record(
    state: dict[str, Any] | None,
    exit_info: dict[str, Any],
    latest: int,
    has_result: bool,
    owner: dict[str, Any] | None,
) -> dict[str, Any]:
    """Where the task's attempt, worker and last change are read: the last exit for a
    succeeded task, the lock owner for a running one, else state.json."""
    if has_result:
        return {"attempt": latest, "updated": exit_info.get("finished")}
    if owner:
        return {
            "attempt": owner.get("attempt"),
            "worker": owner.get("slot"),
            "updated": owner.get("since"),
        }
    return state or {}


def _coding(attempts: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Worktrees (kept for every attempt: never lost) and Claude Code sessions, if any."""
    found: dict[str, Any] = {}
    keys = ("branch", "commit", "base", "state", "worktree", "files")
    trees = [
        {"attempt": n, **{k: a["workspace"].get(k) for k in keys}}
        for n, a in sorted(attempts.items())
        if isinstance(a.get("workspace"), dict)
    ]
    if trees:
        found["worktrees"] = trees
    sessions = [
        {"attempt": n, **a["session"]}
        for n, a in sorted(attempts.items())
        if isinstance(a.get("session"), dict)
    ]
    if sessions:
        found["sessions"] = sessions
    return found


def outline_tasks(mission_data: Any) -> list[dict[str, Any]]:
    """The tasks a parsed mission.yaml declares, as pending rows (initializer first)."""
    if not isinstance(mission_data, dict):
        return []
    declared: list[tuple[Any, bool]] = []
    init = mission_data.get("initializer")
    if isinstance(init, dict):
        declared.append(({"id": "init", **init}, True))
    tasks = mission_data.get("tasks")
    if isinstance(tasks, list):
        declared.extend((t, False) for t in tasks if isinstance(t, dict))
    rows = []
    for task, is_init in declared:
        spec = {"agent": task.get("agent"), "initializer": is_init, "needs": task.get("needs")}
        rows.append(summarize_task(str(task.get("id")), spec, None, {}, False))
    return rows


def merge_tasks(
    declared: list[dict[str, Any]], materialized: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Declared order first (with the engine's view where it has one), then added tasks."""
    rows = [materialized.get(row["id"], row) for row in declared]
    seen = {row["id"] for row in declared}
    rows.extend(materialized[t] for t in sorted(materialized) if t not in seen)
    return rows


def list_row(
    ref: MissionRef,
    status: dict[str, Any],
    outline: dict[str, Any] | None,
    now: datetime,
    made: datetime | None = None,
) -> dict[str, Any]:
    """The `houston ls` row of a mission.

    `outline` (from mission.yaml) and `made` (the folder's time) fill in for a mission
    dropped in by hand, which has no status.json and no time in its name.
    """
    raw_counts = status.get("counts")
    counts: dict[str, Any] = raw_counts if isinstance(raw_counts, dict) else {}
    total = _int(counts.get("total"), 0)
    name = status.get("name") or ref.id
    if outline is not None:
        name = outline.get("name") or name
        total = total or len(outline.get("tasks", []))
    created = parse_time(status.get("created")) or id_time(ref.id) or made
    return {
        "id": ref.id,
        "state": ref.state.value,
        "outcome": status.get("outcome"),
        "name": str(name),
        "done": _int(counts.get(TaskState.SUCCEEDED), 0),
        "failed": _int(counts.get(TaskState.FAILED), 0),
        "total": total,
        "created": status.get("created") or (iso_seconds(created) if created else None),
        "age": (now - created).total_seconds() if created else None,
    }


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _slot(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def sum_usage(usages: Any) -> dict[str, float]:
    tokens, cost = 0, 0.0
    for usage in usages:
        if isinstance(usage, dict):
            tokens += _int(usage.get("tokens"), 0)
            cost += _number(usage.get("cost")) or 0.0
    return {"tokens": tokens, "cost": cost}


# -- reading files ----------------------------------------------------------------------


def read_tasks(
    mission_path: Path,
    outline: dict[str, Any] | None = None,
    folders: dict[str, TaskFolder] | None = None,
) -> list[dict[str, Any]]:
    """Every task of the mission at `mission_path`, declared ones first; never raises.
    `outline` and `folders` are `read_outline(mission_path)` and
    `read_task_folders(mission_path)` when the caller has read them already."""
    if folders is None:
        folders = read_task_folders(mission_path)
    materialized = {task_id: task_row(folder) for task_id, folder in folders.items()}
    if outline is None:
        outline = read_outline(mission_path)
    declared = outline["tasks"] if outline else []
    return merge_tasks(declared, materialized)


def task_row(folder: TaskFolder) -> dict[str, Any]:
    """Pure: `summarize_task` of a task folder read by `read_task_folder`."""
    return summarize_task(
        folder.task_id,
        folder.spec,
        folder.state,
        folder.attempts,
        folder.has_result,
        None if folder.has_result else folder.lock,
    )


def read_outline(mission_path: Path) -> dict[str, Any] | None:
    """Name, budget and declared tasks of mission.yaml, read leniently; None if unreadable."""
    try:
        with open(spec_file(mission_path), "rb") as f:
            raw = f.read(_MAX_SPEC_BYTES + 1)
    except OSError:
        return None
    if len(raw) > _MAX_SPEC_BYTES:
        return None
    import yaml  # only for missions without status (dropped in by hand) or for `show`

    try:
        data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name")
    return {
        "name": name if isinstance(name, str) else None,
        "budget": data.get("budget") if isinstance(data.get("budget"), dict) else None,
        "tasks": outline_tasks(data),
    }


def read_row(store: MissionStore, ref: MissionRef, now: datetime) -> dict[str, Any]:
    """One `ls` row: status.json only, plus mission.yaml for a mission made by hand."""
    status = store.status(ref)
    if status.get("created"):
        return list_row(ref, status, None, now)
    return list_row(ref, status, read_outline(ref.path), now, folder_time(ref.path))


def count_states(tasks: list[dict[str, Any]]) -> dict[str, int]:
    return count_by_state([task["state"] for task in tasks])


def folder_time(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None
