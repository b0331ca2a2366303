"""The global append-only event log in `<home>/events/` (DESIGN §6).

Segments are JSON-lines files named by the id of their first byte. An event's id is its
byte offset in the whole log: monotonic, unique and resumable without a counter file.
Appends from several processes are serialized by an OS flock on `events/.lock` (held for
two syscalls), so ids stay strictly increasing and rotation never races a writer. A
reader consumes complete lines only and skips a torn one.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENT_TYPES = frozenset(
    {
        "mission.state",
        "task.state",
        "attempt.start",
        "attempt.end",
        "attempt.log",
        "usage",
        "resource",
        "budget.warn",
        "budget.stop",
        "worker.state",
        "engine.state",
        "blackboard",
    }
)
SEGMENT_BYTES = 8 * 1024 * 1024
_SEGMENT_DIGITS = 16


def segment_name(start: int) -> str:
    return f"{start:0{_SEGMENT_DIGITS}d}.jsonl"


def encode_event(
    event_id: int,
    ts: float,
    type_: str,
    mission: str | None,
    task: str | None,
    attempt: int | None,
    data: dict[str, Any],
) -> bytes:
    """Pure: one event as one line of JSON."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    record = {
        "id": event_id,
        "ts": round(ts, 6),
        "type": type_,
        "mission": mission,
        "task": task,
        "attempt": attempt,
        "data": data,
    }
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@dataclass
class _Open:
    start: int
    fd: int


class EventLog:
    def __init__(self, folder: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self._lock_fd: int | None = None
        self._segment: _Open | None = None

    # -- writing --------------------------------------------------------------------

    def append(
        self,
        type_: str,
        *,
        mission: str | None = None,
        task: str | None = None,
        attempt: int | None = None,
        data: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> int:
        """Append one event; return its id."""
        lock_fd = self._lock()
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            seg = self._current_segment()
            offset = os.fstat(seg.fd).st_size
            event_id = seg.start + offset
            line = encode_event(
                event_id, time.time() if ts is None else ts, type_, mission, task, attempt,
                data or {},
            )
            written = os.write(seg.fd, line)
            if written != len(line):
                raise OSError(f"short append to the event log: {written} of {len(line)} bytes")
            return event_id
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._segment is not None:
            os.close(self._segment.fd)
            self._segment = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _lock(self) -> int:
        if self._lock_fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        return self._lock_fd

    def _current_segment(self) -> _Open:
        """Called under the lock: the newest segment, rotated when full."""
        seg = self._segment
        if seg is not None and os.fstat(seg.fd).st_size < self.segment_bytes:
            newest = self.segments()
            if newest and newest[-1][0] == seg.start:
                return seg
        if seg is not None:
            os.close(seg.fd)
            self._segment = None
        segments = self.segments()
        if not segments:
            start = 0
        else:
            start, path = segments[-1]
            size = path.stat().st_size
            if size >= self.segment_bytes:
                start += size
        fd = os.open(
            self.folder / segment_name(start), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
        self._segment = _Open(start, fd)
        return self._segment

    # -- reading --------------------------------------------------------------------

    def segments(self) -> list[tuple[int, Path]]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            stem, dot, ext = name.partition(".")
            if ext == "jsonl" and stem.isdigit():
                found.append((int(stem), self.folder / name))
        return sorted(found)

    def read(self, after: int = -1, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Events with id > `after`, in order; complete lines only, torn lines skipped."""
        count = 0
        segments = self.segments()
        for index, (start, path) in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            if following is not None and following <= after + 1:
                continue
            with open(path, "rb") as f:
                skip = max(0, after + 1 - start)
                f.seek(skip)
                data = f.read()
            end = data.rfind(b"\n")
            position = start + skip
            for raw in data[: end + 1].splitlines(keepends=True):
                event_id = position
                position += len(raw)
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(event, dict) or event.get("id") != event_id:
                    continue
                yield event
                count += 1
                if limit is not None and count >= limit:
                    return

    def head(self) -> int:
        """The id just past the last complete byte: resume point for a new reader."""
        segments = self.segments()
        if not segments:
            return 0
        start, path = segments[-1]
        return start + path.stat().st_size
