"""The task files inside a mission folder (FORMATS "Task files"), read and written here.

tasks/<t>/spec.json (written once), state.json (atomic, on every change), attempts/<n>/
(stdout.log, stderr.log, result.json, usage.json, exit.json, agent.json, inputs.json),
result.json (the accepted result: its presence means the task succeeded and never runs
again). Task files are not fsynced: they must survive a killed process, which the page
cache gives us; the mission moves themselves are durable (the store fsyncs them).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from houston import fsio
from houston.store import iso, utcnow


def task_dir(mission_dir: Path, task_id: str) -> Path:
    return mission_dir / "tasks" / task_id


def attempt_dir(mission_dir: Path, task_id: str, attempt: int) -> Path:
    return task_dir(mission_dir, task_id) / "attempts" / str(attempt)


def task_ids(mission_dir: Path) -> list[str]:
    try:
        names = os.listdir(mission_dir / "tasks")
    except FileNotFoundError:
        return []
    return sorted(n for n in names if not n.startswith("."))


def read_spec(mission_dir: Path, task_id: str) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(task_dir(mission_dir, task_id) / "spec.json")
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_spec(mission_dir: Path, spec: dict[str, Any]) -> bool:
    """Write spec.json once; False if the task already exists (idempotent materialize)."""
    folder = task_dir(mission_dir, spec["id"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.json"
    if path.exists():
        return False
    fsio.write_json_atomic(path, spec, durable=False)
    return True


def read_state(mission_dir: Path, task_id: str) -> dict[str, Any]:
    try:
        data = fsio.read_json(task_dir(mission_dir, task_id) / "state.json")
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(
    mission_dir: Path,
    task_id: str,
    state: str,
    attempt: int,
    *,
    error: str | None = None,
    worker: int | None = None,
    failures: int = 0,
    crashes: int = 0,
) -> None:
    record = {
        "state": state,
        "attempt": attempt,
        "updated": iso(utcnow()),
        "error": error,
        "worker": worker,
        "failures": failures,
        "crashes": crashes,
    }
    with contextlib.suppress(FileNotFoundError):
        fsio.write_json_atomic(task_dir(mission_dir, task_id) / "state.json", record, durable=False)


def read_result(mission_dir: Path, task_id: str) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(task_dir(mission_dir, task_id) / "result.json")
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else {"value": data}


def accept_result(mission_dir: Path, task_id: str, result: dict[str, Any]) -> None:
    """The commit point of a task: once this file exists the task never runs again."""
    fsio.write_json_atomic(task_dir(mission_dir, task_id) / "result.json", result, durable=False)


def attempt_numbers(mission_dir: Path, task_id: str) -> list[int]:
    try:
        names = os.listdir(task_dir(mission_dir, task_id) / "attempts")
    except FileNotFoundError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


def new_attempt_dir(mission_dir: Path, task_id: str, at_least: int) -> tuple[int, Path]:
    """mkdir the next attempt folder (numbers are never reused, even after a crash)."""
    number = max([at_least, *attempt_numbers(mission_dir, task_id)]) + 1
    while True:
        path = attempt_dir(mission_dir, task_id, number)
        try:
            path.mkdir(parents=True)
            return number, path
        except FileExistsError:
            number += 1


def read_attempt_json(path: Path, name: str) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(path / name)
    except (FileNotFoundError, ValueError, NotADirectoryError):
        return None
    return data if isinstance(data, dict) else None


def write_attempt_json(path: Path, name: str, data: dict[str, Any]) -> None:
    with contextlib.suppress(FileNotFoundError):
        fsio.write_json_atomic(path / name, data, durable=False)
