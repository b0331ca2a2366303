"""Every attempt of a mission with its times, worker slot, exit reason and spend (the
dashboard's timeline, the whole-mission log, the OpenTelemetry export).

Rows are built from task folders read once (houston.home.taskfolder). Attempt folders
are written by workers while this runs: a missing or half-written file is a running
attempt, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from houston.core.taskstate import TaskState
from houston.home.taskfolder import TaskFolder, read_task_folders


def attempt_row(
    task: str, number: int, files: dict[str, Any], lock: dict[str, Any] | None
) -> dict[str, Any]:
    """Pure: one attempt from its files (keys of ATTEMPT_FILES): times, worker slot, exit
    reason and spend. `lock` is the task's held lock."""
    exit_info = files.get("exit") or {}
    owner = files.get("claim") or {}
    running = not exit_info and lock is not None and lock.get("attempt") == number
    if running:
        owner = lock or owner
    usage = files.get("usage") or {}
    return {
        "task": task,
        "attempt": number,
        "worker": owner.get("slot", exit_info.get("worker")),
        "started": exit_info.get("started") or owner.get("since"),
        "finished": exit_info.get("finished"),
        "duration": exit_info.get("duration"),
        "reason": exit_info.get("reason") or (TaskState.RUNNING if running else "unknown"),
        "code": exit_info.get("code"),
        "signal": exit_info.get("signal"),
        "error": exit_info.get("error"),
        "tokens": usage.get("tokens", 0),
        "cost": usage.get("cost", 0.0),
        "model": usage.get("model"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
    }


def attempt_rows(folders: Iterable[TaskFolder]) -> list[dict[str, Any]]:
    """Pure: every attempt of these tasks, oldest start first (not yet begun last)."""
    rows = [
        attempt_row(folder.task_id, number, files, folder.lock)
        for folder in folders
        for number, files in sorted(folder.attempts.items())
    ]
    rows.sort(key=lambda r: (r["started"] or "~", r["task"], r["attempt"]))
    return rows


def read_attempts(mission_path: Path) -> list[dict[str, Any]]:
    """Every attempt of every task of the mission at `mission_path`."""
    return attempt_rows(read_task_folders(mission_path).values())
