"""Every attempt of a mission with its times, worker slot, exit reason and spend (the
dashboard's timeline, the whole-mission log, the OpenTelemetry export).

Only reads files. Attempt folders are written by workers while this runs: a missing or
half-written file is a running attempt, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from houston.core.ids import is_decimal
from houston.core.taskstate import TaskState
from houston.home import fsio


def read_record(path: Path) -> dict[str, Any] | None:
    """A JSON object of an attempt or task folder; None if missing, torn or not an object."""
    try:
        data = fsio.read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def attempt_numbers(folder: Path) -> list[int]:
    """The attempt numbers under a task's `attempts/` folder, in order."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(int(n) for n in names if is_decimal(n))


def attempt_row(
    task: str, number: int, folder: Path, lock: dict[str, Any] | None
) -> dict[str, Any]:
    """One attempt: times, worker slot, exit reason. `lock` is the task's held lock."""
    exit_info = read_record(folder / "exit.json") or {}
    owner = read_record(folder / "claim" / "owner.json") or {}
    running = not exit_info and lock is not None and lock.get("attempt") == number
    if running:
        owner = lock or owner
    usage = read_record(folder / "usage.json") or {}
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


def read_attempts(mission_path: Path) -> list[dict[str, Any]]:
    """Every attempt of every task, oldest start first (attempts not yet begun last)."""
    rows = []
    for task in sorted(_subfolders(mission_path / "tasks")):
        folder = mission_path / "tasks" / task
        lock = read_record(folder / "lock" / "owner.json")
        for number in attempt_numbers(folder / "attempts"):
            rows.append(attempt_row(task, number, folder / "attempts" / str(number), lock))
    rows.sort(key=lambda r: (r["started"] or "~", r["task"], r["attempt"]))
    return rows


def _subfolders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []
