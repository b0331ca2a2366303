"""The files of one attempt folder, `tasks/<t>/attempts/<n>/` (docs/formats.md, "Attempts").

Paths are str: the worker writes these on every attempt, where pathlib costs. Readers return
None for a missing or torn file (a worker may be writing it, or may have died mid-way);
writers that the engine and recovery use tolerate a folder that is gone.
"""

from __future__ import annotations

import contextlib
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston.home import fsio
from houston.home.attempt_records import UsageRecord
from houston.home.records import ExitRecord, ProcessRecord
from houston.home.taskfiles import write_json_fast

if TYPE_CHECKING:
    from houston.home.coding_records import WorkspaceRecord

LOG_STREAMS = ("stdout", "stderr")


def _read(attempt: Path | str, name: str) -> Any:
    try:
        return fsio.read_json(f"{attempt}/{name}")
    except (FileNotFoundError, ValueError, NotADirectoryError):
        return None


def _read_object(attempt: Path | str, name: str) -> dict[str, Any] | None:
    data = _read(attempt, name)
    return data if isinstance(data, dict) else None


def read_exit(attempt: Path | str) -> ExitRecord | None:
    return ExitRecord.parse(_read(attempt, "exit.json"))


def write_exit(attempt: Path | str, record: ExitRecord, *, missing_ok: bool = True) -> None:
    """The one writer of exit.json (the worker, the engine, recovery). `missing_ok`: an
    attempt folder that is gone (its mission moved on) is not an error for the engine."""
    if not missing_ok:
        write_json_fast(f"{attempt}/exit.json", record.encode())
        return
    with contextlib.suppress(FileNotFoundError):
        write_json_fast(f"{attempt}/exit.json", record.encode())


def read_agent(attempt: Path | str) -> ProcessRecord | None:
    return ProcessRecord.parse(_read(attempt, "agent.json"))


def write_agent(attempt: Path | str, record: ProcessRecord) -> None:
    write_json_fast(f"{attempt}/agent.json", record.encode())


def read_usage(attempt: Path | str) -> UsageRecord | None:
    """usage.json: `tokens`, `cost`, and `model`, `input_tokens`, `output_tokens` if said."""
    return UsageRecord.parse(_read(attempt, "usage.json"))


def write_usage(attempt: Path | str, usage: UsageRecord, *, missing_ok: bool = False) -> None:
    """The one writer of usage.json (the worker; the engine for a dead worker's attempt)."""
    if not missing_ok:
        write_json_fast(f"{attempt}/usage.json", usage.encode())
        return
    with contextlib.suppress(FileNotFoundError):
        write_json_fast(f"{attempt}/usage.json", usage.encode())


def read_result(attempt: Path | str) -> dict[str, Any] | None:
    """The attempt's own result.json (not yet the task's accepted one)."""
    return _read_object(attempt, "result.json")


def write_result(attempt: Path | str, result: dict[str, Any]) -> None:
    write_json_fast(f"{attempt}/result.json", result)


def log_path(attempt: Path | str, stream: str) -> str:
    """stdout.log or stderr.log (`stream` is one of LOG_STREAMS); absent means empty."""
    return f"{attempt}/{stream}.log"


def workspace_record_path(attempt: Path | str) -> str:
    """workspace.json: the attempt's worktree (branch, worktree, base, commit, state)."""
    return f"{attempt}/workspace.json"


def has_workspace(attempt: Path | str) -> bool:
    return os.path.exists(workspace_record_path(attempt))  # noqa: PTH110


def read_workspace(attempt: Path | str) -> WorkspaceRecord | None:
    from houston.home.coding_records import WorkspaceRecord  # here: workers start faster

    return WorkspaceRecord.parse(_read(attempt, "workspace.json"))


def write_workspace(attempt: Path | str, record: WorkspaceRecord) -> None:
    """The one writer of workspace.json (houston.workspaces.workspace, in the worker)."""
    write_json_fast(workspace_record_path(attempt), record.encode())


def make_attempt_dir(task_dir: str, attempt: str) -> bool:
    """mkdir the task folder, its attempts/ and the attempt's own folder; False if the
    attempt folder exists (a past life used that number). Explicit mkdirs: Path.mkdir
    (parents=True) costs twice the syscalls. Through fsio.persist: on a full disk (a real
    one refuses mkdir) a worker that waits for space waits."""
    for parent in (task_dir, f"{task_dir}/attempts"):
        with contextlib.suppress(FileExistsError):
            fsio.persist(partial(os.mkdir, parent), parent)
    try:
        fsio.persist(partial(os.mkdir, attempt), attempt)
    except FileExistsError:
        return False
    return True
