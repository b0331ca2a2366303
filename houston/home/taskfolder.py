"""What one task folder holds (docs/formats.md), each file read once for every view of it:
the task's row (houston.views.tasks), its attempts' rows (houston.views.attempts) and what
a mission cost (houston.views.costs).

Only reads. A missing, torn or half-written file reads as None: the engine and its
workers write these folders while they are read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from houston.core.ids import is_decimal
from houston.home import fsio
from houston.home.attempt_records import UsageRecord
from houston.home.coding_records import ClaudeSessionRecord, WorkspaceRecord
from houston.home.layout import tasks_dir

# The files of one attempt folder a view reads, by the key it reads them under.
ATTEMPT_FILES = {
    "exit": "exit.json",
    "usage": "usage.json",
    "workspace": "workspace.json",
    "session": "claude-session.json",
    "claim": "claim/owner.json",
}


class _Record(Protocol):
    def encode(self) -> dict[str, object]: ...


# The files whose one parser the views' reading goes through: they get the record's
# encoding, so a field of the wrong type reads as absent. The others are shown as written,
# partial ones too (an exit.json without its reason still gives its times).
_PARSERS: dict[str, Callable[[Any], _Record | None]] = {
    "usage": UsageRecord.parse,
    "workspace": WorkspaceRecord.parse,
    "session": ClaudeSessionRecord.parse,
}


@dataclass(frozen=True, slots=True)
class TaskFolder:
    """A task's files: `lock` is lock/owner.json (the held lock), `attempts` maps each
    attempt number to its files by the keys of ATTEMPT_FILES."""

    task_id: str
    spec: dict[str, Any] | None
    state: dict[str, Any] | None
    has_result: bool
    lock: dict[str, Any] | None
    attempts: dict[int, dict[str, Any]]


def read_task_folder(folder: Path) -> TaskFolder:
    attempts: dict[int, dict[str, Any]] = {}
    for name in subfolders(folder / "attempts"):
        if is_decimal(name):
            attempt = folder / "attempts" / name
            attempts[int(name)] = {
                key: _read_attempt_file(attempt, key, file) for key, file in ATTEMPT_FILES.items()
            }
    return TaskFolder(
        task_id=folder.name,
        spec=read_record(folder / "spec.json"),
        state=read_record(folder / "state.json"),
        has_result=(folder / "result.json").is_file(),
        lock=read_record(folder / "lock" / "owner.json"),
        attempts=attempts,
    )


def read_task_folders(mission_path: Path) -> dict[str, TaskFolder]:
    """Every task folder of the mission, by task id (in id order)."""
    return {
        task_id: read_task_folder(tasks_dir(mission_path) / task_id)
        for task_id in subfolders(tasks_dir(mission_path))
    }


def subfolders(folder: Path) -> list[str]:
    """The visible subfolders of `folder`, sorted; none if it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def _read_attempt_file(attempt: Path, key: str, file: str) -> dict[str, Any] | None:
    found = read_record(attempt / file)
    parser = _PARSERS.get(key)
    if parser is None or found is None:
        return found
    record = parser(found)
    return None if record is None else dict(record.encode())


def read_record(path: Path) -> dict[str, Any] | None:
    """A JSON object of a task or attempt folder; None if missing, torn or not an object."""
    try:
        data = fsio.read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def attempt_spends(
    mission_path: Path,
) -> Iterator[tuple[dict[str, Any] | None, UsageRecord, dict[str, Any] | None]]:
    """Each attempt of the mission that recorded a spend: its task's spec, its usage.json
    and its own result.json (an absent usage.json = nothing spent, so no row)."""
    for task_id in subfolders(tasks_dir(mission_path)):
        folder = tasks_dir(mission_path) / task_id
        spec = read_record(folder / "spec.json")
        for number in subfolders(folder / "attempts"):
            usage = UsageRecord.parse(read_record(folder / "attempts" / number / "usage.json"))
            if usage is not None:
                yield spec, usage, read_record(folder / "attempts" / number / "result.json")
