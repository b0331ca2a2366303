"""The task files inside a mission folder (docs/formats.md), read and written here.

tasks/<t>/spec.json (written once), lock/owner.json (held = running), state.json (atomic;
written when a task fails, is requeued, skipped or cancelled: the error and the failure
and crash counters; absent means pending), attempts/<n>/ (stdout.log, stderr.log,
result.json, usage.json, exit.json, agent.json, claim/owner.json = the released lock),
result.json (the accepted result: its presence means the task succeeded and never runs
again). Task files are not fsynced: they must survive a killed process, which the page
cache gives us; the mission moves themselves are durable (the store fsyncs them).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from houston.clock import utcnow
from houston.core.ids import is_decimal
from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.records import SpecRecord, StateRecord


def write_json_fast(path: Path | str, obj: Any) -> None:
    """Atomic replace without fsync and without mkstemp (the hot path of every task).

    The temp name is unique per process, and each process writes a given file from one
    thread, so no two writers share a temp file; readers see the old or the new file.
    """
    text = str(path)
    folder, _, name = text.rpartition("/")
    tmp = f"{folder}/.{name}.{os.getpid()}.tmp"
    data = fsio.compact(obj).encode() + b"\n"
    fsio.persist(lambda: _replace(tmp, text, data), text)


def _replace(tmp: str, text: str, data: bytes) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fsio.write_all(fd, data)  # all of it: a full disk must not leave half a file
    finally:
        os.close(fd)
    os.replace(tmp, text)  # noqa: PTH105 - str paths: pathlib costs on the hot path


def task_dir(mission_dir: Path, task_id: str) -> Path:
    return mission_dir / "tasks" / task_id


def attempt_dir(mission_dir: Path, task_id: str, attempt: int) -> Path:
    return task_dir(mission_dir, task_id) / "attempts" / str(attempt)


def task_path(mission_dir: Path | str, task_id: str) -> str:
    """`task_dir` as a str, for the hot path (pathlib costs there)."""
    return f"{mission_dir}/tasks/{task_id}"


def attempt_path(mission_dir: Path | str, task_id: str, attempt: int) -> str:
    """`attempt_dir` as a str, for the hot path."""
    return f"{mission_dir}/tasks/{task_id}/attempts/{attempt}"


def result_path(mission_dir: Path | str, task_id: str) -> str:
    """The task's accepted result.json (its presence: the task succeeded for good)."""
    return f"{mission_dir}/tasks/{task_id}/result.json"


def attempt_names(attempt: Path | str) -> tuple[str, str, int]:
    """(mission id, task id, number) of an attempt folder, from its path
    (`.../<mission>/tasks/<task>/attempts/<n>`)."""
    parts = Path(attempt).parts
    return parts[-5], parts[-3], int(parts[-1])


def scratch_dir(mission_dir: str) -> str:
    """`missions/.tmp` of the home a mission folder (`missions/<STATE>/<id>`) is in."""
    return f"{os.path.dirname(os.path.dirname(mission_dir))}/.tmp"  # noqa: PTH120


def task_ids(mission_dir: Path) -> list[str]:
    try:
        names = os.listdir(mission_dir / "tasks")
    except FileNotFoundError:
        return []
    return sorted(n for n in names if not n.startswith("."))


def read_spec(mission_dir: Path, task_id: str) -> SpecRecord | None:
    try:
        data = fsio.read_json(task_dir(mission_dir, task_id) / "spec.json")
    except (FileNotFoundError, ValueError):
        return None
    return SpecRecord.parse(data)


def write_spec(mission_dir: Path, spec: SpecRecord) -> bool:
    """Write spec.json once; False if the task already exists (idempotent materialize)."""
    folder = task_dir(mission_dir, spec.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.json"
    if path.exists():
        return False
    write_json_fast(path, spec.encode())
    return True


def read_state(mission_dir: Path | str, task_id: str) -> StateRecord | None:
    """state.json, or None when there is none (the task is pending) or it is torn."""
    try:
        data = fsio.read_json(f"{mission_dir}/tasks/{task_id}/state.json")
    except (FileNotFoundError, ValueError):
        return None
    return StateRecord.parse(data)


def write_state(
    mission_dir: Path | str,
    task_id: str,
    state: str,
    attempt: int,
    *,
    error: str | None = None,
    worker: int | None = None,
    failures: int = 0,
    crashes: int = 0,
) -> None:
    record = StateRecord(state, attempt, iso(utcnow()), error, worker, failures, crashes)
    with contextlib.suppress(FileNotFoundError):
        write_json_fast(f"{mission_dir}/tasks/{task_id}/state.json", record.encode())


def has_result(mission_dir: Path | str, task_id: str) -> bool:
    """The commit point: the task succeeded for good."""
    return os.path.exists(f"{mission_dir}/tasks/{task_id}/result.json")  # noqa: PTH110


def drop_result(mission_dir: Path | str, task_id: str) -> None:
    """Take back a result the worker accepted before the engine stopped its attempt."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{mission_dir}/tasks/{task_id}/result.json")  # noqa: PTH108


def read_result(mission_dir: Path, task_id: str) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(task_dir(mission_dir, task_id) / "result.json")
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else {"value": data}


def accept_result(
    mission_dir: Path | str, task_id: str, result: dict[str, Any], attempt: Path | str | None = None
) -> None:
    """The commit point of a task: once this file exists the task never runs again.

    With `attempt`, the attempt's own result.json is hard-linked into place (one atomic
    syscall, the same bytes); otherwise `result` is written atomically.
    """
    target = f"{mission_dir}/tasks/{task_id}/result.json"
    if attempt is not None:
        try:
            os.link(f"{attempt}/result.json", target)
            return
        except FileExistsError:
            return
        except OSError:
            pass
    write_json_fast(target, result)


def attempt_numbers(mission_dir: Path, task_id: str) -> list[int]:
    try:
        names = os.listdir(task_dir(mission_dir, task_id) / "attempts")
    except FileNotFoundError:
        return []
    return sorted(int(n) for n in names if is_decimal(n))


def keep_spec(task_dir: str, spec: SpecRecord) -> None:
    """The claimer's copy of its job's spec (the engine's, sent with the claim), once (the
    task folder exists by now)."""
    if not os.path.exists(f"{task_dir}/spec.json"):  # noqa: PTH110 - str paths: hot path
        write_json_fast(f"{task_dir}/spec.json", spec.encode())
