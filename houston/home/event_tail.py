"""Reading the event log (houston.home.events) as it grows: `EventTail` follows it from an id
on, segment by segment, and `parse_chunk_raw` turns the bytes read into events. The tail
needs of a log only its segments and their size, so it takes any `SegmentedLog`."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Protocol


class SegmentedLog(Protocol):
    """What a tail reads: the log's segments (start offset, file) in order, and the size
    at which a segment is finished."""

    segment_bytes: int

    def segments(self) -> list[tuple[int, Path]]: ...


def parse_chunk_raw(data: bytes, position: int) -> tuple[list[tuple[dict[str, Any], bytes]], int]:
    """Pure: the events in `data` (which starts at log offset `position`) up to its last
    newline, each with its own line (newline stripped), and the offset just past that
    newline. Torn or foreign lines are skipped: a line counts only if it parses and its
    `id` equals its own offset."""
    end = data.rfind(b"\n")
    events: list[tuple[dict[str, Any], bytes]] = []
    for raw in data[: end + 1].splitlines(keepends=True):
        event_id = position
        position += len(raw)
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("id") == event_id:
            events.append((event, raw.rstrip(b"\n")))
    return events, position


class EventTail:
    """Follows the log from an id on: each `poll()` returns the events written since the
    last one. It keeps the current segment open, so a poll with news costs one fstat and
    one pread; the folder is listed only when the segment has nothing new (rotation)."""

    def __init__(self, log: SegmentedLog, after: int = -1) -> None:
        self.log = log
        self.position = after + 1  # the offset of the next byte to read
        self._fd: int | None = None
        self._start = -1  # where the open segment starts

    def poll(self, limit: int | None = None) -> list[dict[str, Any]]:
        return [event for event, _raw in self.poll_raw(limit)]

    def poll_raw(
        self, limit: int | None = None, max_bytes: int | None = None
    ) -> list[tuple[dict[str, Any], bytes]]:
        """Like `poll`, with each event's line as written (to forward it unchanged).

        `max_bytes` bounds what one call reads (and so parses and holds): a replay of a
        whole log then costs a window at a time, not a segment per client.
        """
        out: list[tuple[dict[str, Any], bytes]] = []
        for _ in range(64):  # bounded: at most this many segments per call
            if self._fd is None and not self._open_current():
                return out
            chunk, size = self._read_open(max_bytes)
            out.extend(chunk)
            if limit is not None and len(out) >= limit:
                if len(out) > limit:
                    self.position = out[limit][0]["id"]  # resume at the first one left out
                return out[:limit]
            if max_bytes is not None and self.position - self._start < size:
                return out  # one window of this segment; the next call reads on
            if chunk and size < self.log.segment_bytes:
                return out  # the segment is still being written: nothing after it yet
            following = self._following()
            if following is None:
                return out
            # This segment is finished (a torn tail there never completes).
            self.position = max(self.position, following)
            self.close()
            if max_bytes is not None and out:
                return out  # the window is spent; the next segment comes with the next call
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also at interpreter exit
            self.close()

    def _open_current(self) -> bool:
        segments = self.log.segments()
        if not segments:
            return False
        current = _segment_at(segments, self.position)
        if current is None:  # pruned under us, or a gap: jump to what is kept
            self.position = segments[0][0]
            current = 0, segments[0]
        _index, (start, path) = current
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        self._start = start
        return True

    def _read_open(
        self, max_bytes: int | None = None
    ) -> tuple[list[tuple[dict[str, Any], bytes]], int]:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        offset = self.position - self._start
        if offset >= size:
            return [], size
        want = size - offset if max_bytes is None else min(size - offset, max_bytes)
        data = os.pread(self._fd, want, offset)
        while b"\n" not in data and want < size - offset:  # a line longer than the window
            want = min(size - offset, want * 2)
            data = os.pread(self._fd, want, offset)
        chunk, self.position = parse_chunk_raw(data, self.position)
        return chunk, size

    def _following(self) -> int | None:
        later = [start for start, _path in self.log.segments() if start > self._start]
        return later[0] if later else None


def _segment_at(
    segments: list[tuple[int, Path]], position: int
) -> tuple[int, tuple[int, Path]] | None:
    for index in range(len(segments) - 1, -1, -1):
        if segments[index][0] <= position:
            return index, segments[index]
    return None
