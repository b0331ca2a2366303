"""Attempt logs (stdout.log, stderr.log): their tail, what was added since an offset, and
the whole mission's log. `houston logs` (print and follow), the API's task log, the
mission view's stderr tails and `GET /api/missions/{id}/log` all read through `read_log`.

Reading only. Logs grow while they are read: a chunk ends at the size seen when the file
was opened. The dashboard's live lines come from the SSE event feed (houston.server.sse).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from houston.core.errors import NotFoundError, UsageError
from houston.core.ids import is_safe_id
from houston.core.lifecycle import MissionState
from houston.home import taskfiles
from houston.home.layout import tasks_dir
from houston.home.store import MissionRef, MissionStore
from houston.views import attempts

LOG_STREAMS = ("stdout", "stderr")
LOG_TAIL_BYTES = 64 * 1024  # the API's default tail
MAX_TAIL_BYTES = 1024 * 1024  # the most one API answer carries
MISSION_LOG_FILE_BYTES = 256 * 1024  # per attempt and stream in the whole-mission log
STDERR_TAIL_BYTES = 4096  # a failed task's stderr in the mission view
STDERR_TAIL_LINES = 30


@dataclass(frozen=True, slots=True)
class LogChunk:
    """`data` read from offset `start` of a log whose size was `size` when opened."""

    data: bytes
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + len(self.data)


def read_log(path: Path, start: int | None, limit: int | None) -> LogChunk:
    """Up to `limit` bytes (None: all) of a log from offset `start`, or its last `limit`
    bytes when `start` is None (the tail). A log not yet written reads as empty."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if start is None:
                start = 0 if limit is None else max(0, size - limit)
            start = min(start, size)  # a log is never cut; past its end is its end
            f.seek(start)
            data = f.read(size - start if limit is None else min(limit, size - start))
    except (FileNotFoundError, NotADirectoryError):
        return LogChunk(b"", 0, 0)
    return LogChunk(data, start, size)


def read_tail(path: Path, limit: int = STDERR_TAIL_BYTES) -> bytes:
    """The last whole lines of a log within `limit` bytes; empty if it cannot be read
    (a view never fails on one unreadable log)."""
    try:
        chunk = read_log(path, None, limit)
    except OSError:
        return b""
    data = chunk.data
    if chunk.start > 0 and b"\n" in data:
        data = data.split(b"\n", 1)[1]  # the first line was cut in the middle
    return data


def tail_lines(data: bytes, lines: int) -> str:
    """Pure: the last `lines` lines of a byte tail."""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def task_folder(ref: MissionRef, task: str) -> Path:
    """The folder of one task of the mission; a clear error for a bad or unknown id."""
    if not is_safe_id(task):  # never a path: too long, or with a /
        raise UsageError(
            f"{task[:80]!r} is not a task id", fix=f"see `houston show {ref.id}` for its tasks"
        )
    folder = taskfiles.task_dir(ref.path, task)
    if not folder.is_dir():
        raise NotFoundError(
            f"mission {ref.id} has no task {task!r}",
            where=str(tasks_dir(ref.path)),
            fix=f"see `houston show {ref.id}`",
        )
    return folder


def task_log(
    ref: MissionRef, task: str, *, attempt: int | None, stream: str, tail_bytes: int
) -> dict[str, Any]:
    """The end of one attempt's stdout or stderr (latest attempt unless given)."""
    if stream not in LOG_STREAMS:
        raise UsageError(f"stream must be one of {', '.join(LOG_STREAMS)}")
    task_folder(ref, task)
    if attempt is None:
        numbers = taskfiles.attempt_numbers(ref.path, task)
        attempt = numbers[-1] if numbers else 0
    path = taskfiles.attempt_dir(ref.path, task, attempt) / f"{stream}.log"
    chunk = read_log(path, None, max(0, min(tail_bytes, MAX_TAIL_BYTES)))
    return {
        "mission": ref.id,
        "task": task,
        "attempt": attempt,
        "stream": stream,
        "size": chunk.size,
        "text": chunk.data.decode("utf-8", errors="replace"),
    }


def lane_name(slot: Any) -> str:
    """As the timeline names its lanes: the +1 slot runs initializers."""
    return "the +1 slot" if slot == 0 else "an unknown worker" if slot is None else f"worker {slot}"


def mission_log(mission_path: Path, per_file: int = MISSION_LOG_FILE_BYTES) -> str:
    """Every attempt's stdout and stderr, in the order the attempts started, each line
    marked `[task #n]` (stdout) or `[task #n err]` (stderr), after a `[task #n --]` line
    with the attempt's start, end and exit reason."""
    parts: list[str] = []
    for row in attempts.read_attempts(mission_path):
        folder = taskfiles.attempt_dir(mission_path, row["task"], row["attempt"])
        ended = f", ended {row['finished']}: {row['reason']}" if row["finished"] else ""
        parts.append(
            f"[{row['task']} #{row['attempt']} --] started {row['started']} on "
            f"{lane_name(row['worker'])}{ended}"
        )
        for stream, mark in (("stdout", ""), ("stderr", " err")):
            data = read_tail(folder / f"{stream}.log", per_file)
            prefix = f"[{row['task']} #{row['attempt']}{mark}] "
            parts.extend(prefix + line for line in data.decode("utf-8", "replace").splitlines())
    return "\n".join(parts) + ("\n" if parts else "")


# -- `houston logs` -------------------------------------------------------------------------


def print_logs(
    store: MissionStore,
    mission_id: str,
    task: str | None,
    *,
    follow: bool,
    write: Callable[[str], None],
    sleep: Callable[[float], None],
    interval: float = 0.25,
) -> None:
    """Print the latest attempt's logs of one task or of all; with `follow`, keep printing
    what they add until the mission is COMPLETED. The mission may move between state
    folders meanwhile, so its folder is located again on every pass."""
    ref = store.locate(mission_id)
    if task is not None:
        task_folder(ref, task)
    offsets: dict[tuple[str, int, str], int] = {}
    while True:
        ref = store.locate(mission_id)
        wanted = [task] if task else taskfiles.task_ids(ref.path)
        for task_id in wanted:
            _print_task(ref.path, task_id, offsets, write, prefix=follow and not task)
        if not follow or ref.state is MissionState.COMPLETED:
            return
        sleep(interval)


def _print_task(
    mission_dir: Path,
    task_id: str,
    offsets: dict[tuple[str, int, str], int],
    write: Callable[[str], None],
    *,
    prefix: bool,
) -> None:
    numbers = taskfiles.attempt_numbers(mission_dir, task_id)
    if not numbers:
        return
    number = numbers[-1]
    for stream in LOG_STREAMS:
        key = (task_id, number, stream)
        path = taskfiles.attempt_dir(mission_dir, task_id, number) / f"{stream}.log"
        chunk = read_log(path, offsets.get(key, 0), None)
        # Following, only whole lines are printed: the rest comes with its newline.
        end = chunk.data.rfind(b"\n") + 1 if key in offsets or prefix else len(chunk.data)
        if end <= 0:
            continue
        offsets[key] = chunk.start + end
        text = chunk.data[:end].decode(errors="replace")
        if prefix:
            write("".join(f"[{task_id}] {line}\n" for line in text.splitlines()))
        else:
            write(f"==> {task_id} attempt {number} {stream} <==\n{text}")
            if not text.endswith("\n"):
                write("\n")
