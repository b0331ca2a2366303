"""The global append-only event log in `<home>/events/` (docs/formats.md, docs/telemetry.md).

Segments are JSON-lines files named by the id of their first byte. An event's id is its
byte offset in the whole log: monotonic, unique and resumable without a counter file.
Appends from several processes are serialized by an OS flock on `events/.lock` (held for
a few syscalls), so ids stay strictly increasing and rotation never races a writer. A
reader consumes complete lines only and skips a torn one; the next writer ends a torn
tail with a newline first, so a crash mid-append never swallows the following event.

Waking readers: appends in this process call the listeners registered with
`add_listener`; other processes are seen by `houston.home.logwatch.LogWatcher` (inotify
on the events folder). Readers still reconcile every few seconds: inotify can drop events.
Reading as the log grows is houston.home.event_tail's (`EventTail`, re-exported here).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from houston.core.ids import is_decimal
from houston.home.event_tail import EventTail as EventTail
from houston.home.event_tail import parse_chunk_raw as parse_chunk_raw
from houston.home.fsio import compact

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
        "tool.call",  # an llm agent's tool call: tool, summary, outcome, duration_ms
    }
)
SEGMENT_BYTES = 8 * 1024 * 1024
MAX_LOG_BYTES = 32 * SEGMENT_BYTES  # the log never grows past this: old segments go first
_SEGMENT_DIGITS = 16

Listener = Callable[[], None]
# An event not yet written: (type, mission, task, attempt, data, ts or None for now).
Pending = tuple[str, str | None, str | None, int | None, dict[str, Any] | None, float | None]
_listeners: dict[Path, set[Listener]] = {}
_listeners_lock = threading.Lock()


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
    return (compact(record) + "\n").encode()


def add_listener(folder: Path, listener: Listener) -> None:
    """Call `listener()` (from the appending thread) after every append to `folder` made
    in this process. It must be quick and must not raise."""
    with _listeners_lock:
        _listeners.setdefault(folder.absolute(), set()).add(listener)


def remove_listener(folder: Path, listener: Listener) -> None:
    with _listeners_lock:
        _listeners.get(folder.absolute(), set()).discard(listener)


def _notify(folder: Path) -> None:
    with _listeners_lock:
        listeners = list(_listeners.get(folder.absolute(), ()))
    for listener in listeners:
        with contextlib.suppress(Exception):
            listener()


@dataclass
class _Open:
    start: int
    fd: int


class EventLog:
    def __init__(
        self, folder: Path, segment_bytes: int = SEGMENT_BYTES, max_bytes: int = MAX_LOG_BYTES
    ) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._lock_fd: int | None = None
        self._segment: _Open | None = None
        self._mutex = threading.Lock()  # one EventLog may be shared by threads

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
        return self.append_many([(type_, mission, task, attempt, data, ts)])[0]

    def append_many(self, events: Sequence[Pending]) -> list[int]:
        """Append events in order with one lock and one write; their ids.

        Each item is (type, mission, task, attempt, data, ts); ts None = now.
        """
        if not events:
            return []
        with self._mutex:
            lock_fd = self._lock()
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                ids = self._append_locked(events)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        _notify(self.folder)
        return ids

    def _append_locked(self, events: Sequence[Pending]) -> list[int]:
        seg = self._current_segment()
        offset = os.fstat(seg.fd).st_size
        # A writer that died mid-line left a torn tail: end it so our line stands alone.
        prefix = b"\n" if offset and os.pread(seg.fd, 1, offset - 1) != b"\n" else b""
        position = seg.start + offset + len(prefix)
        now = time.time()
        ids, lines = [], [prefix]
        for type_, mission, task, attempt, data, ts in events:
            line = encode_event(
                position, now if ts is None else ts, type_, mission, task, attempt, data or {}
            )
            ids.append(position)
            lines.append(line)
            position += len(line)
        blob = b"".join(lines)
        written = os.write(seg.fd, blob)
        if written != len(blob):
            # A full disk: the next append ends the torn tail with a newline (above).
            raise OSError(
                errno.ENOSPC, f"short append: {written} of {len(blob)} bytes", str(self.folder)
            )
        return ids

    def close(self) -> None:
        with self._mutex:
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
        """Called under the lock: the newest segment, rotated when full.

        A cached segment that is not full is still the newest: rotation only ever
        happens past a full one, and pruning never removes the newest.
        """
        seg = self._segment
        if seg is not None:
            st = os.fstat(seg.fd)
            if st.st_size < self.segment_bytes and st.st_nlink > 0:
                return seg
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
        fd = os.open(self.folder / segment_name(start), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._segment = _Open(start, fd)
        if segments and start != segments[-1][0]:  # we rotated: keep the log bounded
            self.prune(now=time.time(), max_bytes=self.max_bytes)
        return self._segment

    # -- reading --------------------------------------------------------------------

    def segments(self) -> list[tuple[int, Path]]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            stem, _dot, ext = name.partition(".")
            if ext == "jsonl" and is_decimal(stem):
                found.append((int(stem), self.folder / name))
        return sorted(found)

    def read(self, after: int = -1, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Events with id > `after`, in order; complete lines only, torn lines skipped."""
        tail = EventTail(self, after)
        count = 0
        try:
            while limit is None or count < limit:
                batch = tail.poll(limit=None if limit is None else limit - count)
                if not batch:
                    return
                yield from batch
                count += len(batch)
        finally:
            tail.close()

    def head(self) -> int:
        """The id just past the last byte written: resume point for a new reader."""
        segments = self.segments()
        if not segments:
            return 0
        start, path = segments[-1]
        try:
            return start + path.stat().st_size
        except FileNotFoundError:
            return start

    def last_id(self) -> int:
        """An id to resume after that skips everything written so far (-1: none yet)."""
        return self.head() - 1

    def oldest(self) -> int:
        """The first id still kept (older segments were pruned)."""
        segments = self.segments()
        return segments[0][0] if segments else 0

    # -- retention ------------------------------------------------------------------

    def prune(
        self, *, now: float, keep_seconds: float | None = None, max_bytes: int | None = None
    ) -> list[Path]:
        """Delete whole old segments, never the newest: those last written more than
        `keep_seconds` before `now`, then the oldest until at most `max_bytes` remain."""
        segments = self.segments()[:-1]
        removed: list[Path] = []
        sizes: dict[Path, int] = {}
        for _start, path in segments:
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                sizes[path] = st.st_size
                if keep_seconds is not None and st.st_mtime < now - keep_seconds:
                    removed.append(path)
        if max_bytes is not None:
            total = sum(sizes.values()) + self._newest_size()
            for _start, path in segments:
                if total <= max_bytes:
                    break
                total -= sizes.get(path, 0)
                if path not in removed:
                    removed.append(path)
        for path in removed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return removed

    def _newest_size(self) -> int:
        segments = self.segments()
        return self.head() - segments[-1][0] if segments else 0
