"""What the mission view shows beyond the task grid: every attempt with its times and
worker slot (the timeline), why each failed task failed (error + stderr tail), and the
mission's own events (resource samples, tool calls) picked out of the global log.

Only reads files. Attempt folders are written by workers while this runs: a missing or
half-written file is a running attempt, never an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from houston.core.ids import is_decimal
from houston.core.taskstate import TaskState
from houston.core.timestamps import parse_time
from houston.home import fsio
from houston.home.events import EventLog

STDERR_TAIL_BYTES = 4096
STDERR_TAIL_LINES = 30
MISSION_EVENT_TYPES = ("resource", "tool.call", "budget.warn", "budget.stop")
MAX_MISSION_EVENTS = 20_000  # a bound on what one mission view carries


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = fsio.read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _numbers(folder: Path) -> list[int]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(int(n) for n in names if is_decimal(n))


def attempt_row(
    task: str, number: int, folder: Path, lock: dict[str, Any] | None
) -> dict[str, Any]:
    """One attempt: times, worker slot, exit reason. `lock` is the task's held lock."""
    exit_info = _json(folder / "exit.json") or {}
    owner = _json(folder / "claim" / "owner.json") or {}
    running = not exit_info and lock is not None and lock.get("attempt") == number
    if running:
        owner = lock or owner
    usage = _json(folder / "usage.json") or {}
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
        lock = _json(folder / "lock" / "owner.json")
        for number in _numbers(folder / "attempts"):
            rows.append(attempt_row(task, number, folder / "attempts" / str(number), lock))
    rows.sort(key=lambda r: (r["started"] or "~", r["task"], r["attempt"]))
    return rows


def _subfolders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []


def tail_lines(data: bytes, lines: int) -> str:
    """Pure: the last `lines` lines of a byte tail (a cut first line is dropped)."""
    text = data.decode("utf-8", errors="replace")
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def read_tail(path: Path, limit: int = STDERR_TAIL_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except OSError:
        return b""
    if size > limit and b"\n" in data:
        data = data.split(b"\n", 1)[1]  # the first line was cut in the middle
    return data


def failures(mission_path: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each failed task: its error and the tail of its latest attempt's stderr."""
    found = []
    for task in tasks:
        if task.get("state") != TaskState.FAILED:
            continue
        folder = mission_path / "tasks" / str(task["id"])
        numbers = _numbers(folder / "attempts")
        latest = numbers[-1] if numbers else 0
        exit_info = _json(folder / "attempts" / str(latest) / "exit.json") or {}
        stderr = read_tail(folder / "attempts" / str(latest) / "stderr.log")
        found.append({
            "task": task["id"],
            "attempt": latest,
            "error": task.get("error") or exit_info.get("error"),
            "reason": exit_info.get("reason"),
            "code": exit_info.get("code"),
            "stderr": tail_lines(stderr, STDERR_TAIL_LINES),
        })
    return found


def mission_events(log: EventLog, mission_id: str, started: str | None) -> list[dict[str, Any]]:
    """The mission's resource samples, tool calls and budget events from the global log.

    Segments that ended before the mission started are skipped, and a line is parsed only
    if it names the mission, so a mission costs about one scan of the log since it began.
    """
    begin = parse_time(started)
    needle = f'"mission":"{mission_id}"'.encode()
    wanted = {f'"type":"{t}"'.encode() for t in MISSION_EVENT_TYPES}
    found: list[dict[str, Any]] = []
    for line in _lines_since(log, begin.timestamp() if begin else None):
        if needle not in line or not any(w in line for w in wanted):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn last line
        found.append(event)
        if len(found) >= MAX_MISSION_EVENTS:
            break
    return found


def _lines_since(log: EventLog, since: float | None) -> Iterator[bytes]:
    segments = log.segments()
    first = 0
    if since is not None:  # the last segment that began before the mission started
        for index, (_, path) in enumerate(segments):
            stamp = _first_ts(path)
            if stamp is not None and stamp <= since - 5:
                first = index
    for _, path in segments[first:]:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        yield from data.splitlines()


def _first_ts(path: Path) -> float | None:
    try:
        with open(path, "rb") as f:
            line = f.readline(64 * 1024)
        return float(json.loads(line)["ts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resource_series(events: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Pure: `{"task#attempt": [[ts, cpu, rss], ...]}`, one series per attempt."""
    series: dict[str, list[list[float]]] = {}
    for event in events:
        if event.get("type") != "resource":
            continue
        data = event.get("data") or {}
        key = f"{event.get('task')}#{event.get('attempt')}"
        series.setdefault(key, []).append(
            [float(event.get("ts") or 0), float(data.get("cpu") or 0), float(data.get("rss") or 0)])
    return series
