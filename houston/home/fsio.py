"""Durable file primitives: atomic JSON writes, fsynced folders, torn-safe JSON lines.

Rules (docs/formats.md): temp file in the same folder, fsync,
`os.replace`, fsync the folder; appends are one `os.write` per record; readers skip a
torn or unparsable line instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from houston.core.errors import is_environment_fault

T = TypeVar("T")


class FaultWaiter(Protocol):
    """What a long-running process does when the machine refuses a write (disk full,
    read-only, permission): `wait` returns to retry or raises to give up; `cleared` is
    called once a write that had to wait went through."""

    def wait(self, error: OSError, tries: int) -> None: ...

    def cleared(self) -> None: ...


# Per thread: the engine waits out a full disk in its own loop, while a server thread in
# the same process answers its client with the error at once.
_waiters = threading.local()


def set_fault_waiter(waiter: FaultWaiter | None) -> None:
    """Install (or remove, with None) the waiter for writes made by the calling thread."""
    _waiters.current = waiter


def has_fault_waiter() -> bool:
    return getattr(_waiters, "current", None) is not None


@contextlib.contextmanager
def no_waiting() -> Iterator[None]:
    """Writes inside fail at once: for code holding a lock that others wait for, which
    must let go of it before waiting out a full disk."""
    saved = getattr(_waiters, "current", None)
    _waiters.current = None
    try:
        yield
    finally:
        _waiters.current = saved


def persist(op: Callable[[], T], path: Path | str) -> T:
    """Run a write; on an environment fault name `path` in the error and, if this thread
    has a waiter, wait and try again until it goes through (nothing is dropped)."""
    tries = 0
    while True:
        try:
            result = op()
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(path)
            waiter: FaultWaiter | None = getattr(_waiters, "current", None)
            if waiter is None or not is_environment_fault(exc):
                raise
            tries += 1
            waiter.wait(exc, tries)
            continue
        if tries:
            waiter = getattr(_waiters, "current", None)
            if waiter is not None:
                waiter.cleared()
        return result


def write_all(fd: int, data: bytes) -> None:
    """Write every byte; a full disk raises ENOSPC on the next write instead of leaving a
    silently short file."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never half."""
    persist(lambda: _write_bytes_atomic(path, data, durable), path)


def _write_bytes_atomic(path: Path, data: bytes, durable: bool) -> None:
    import tempfile  # here: a warm worker writes its files otherwise and starts faster

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        exc.filename = str(path)  # the file the user knows, not our temp name
        raise
    try:
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    os.close(fd)
    try:
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def write_new(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Create `path` (it must not exist) with `data`, for files in a private staging folder.

    No temp file and rename are needed where nobody else looks; the fsync still is, so
    that the file is whole once the folder it sits in is renamed into view.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise
    finally:
        os.close(fd)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact(obj: Any) -> str:
    """One-line JSON, keys in insertion order (one encoder for every call: json.dumps
    with options builds a new encoder each time, a cost on per-task paths)."""
    return _COMPACT.encode(obj)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True) -> None:
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    write_bytes_atomic(path, text.encode(), durable=durable)


def read_json(path: Path | str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def append_line(path: Path, record: Any, *, durable: bool = False) -> int:
    """Append one JSON record as one line with one `os.write`; return its byte offset.

    Concurrent appenders on a local Linux filesystem never interleave a record. A short
    write (disk full) leaves a torn line: the retry starts with a newline so that the
    torn piece stands alone and readers skip it.
    """
    data = (dumps(record) + "\n").encode()
    torn = [False]

    def append() -> int:
        blob = b"\n" + data if torn[0] else data
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, blob)
            if written != len(blob):
                torn[0] = written > 0 or torn[0]
                raise OSError(errno.ENOSPC, f"short append: {written} of {len(blob)} bytes")
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        return end - len(data)

    return persist(append, path)


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    """Records of a JSON-lines blob up to its last newline; torn or garbage lines skipped."""
    end = data.rfind(b"\n")
    records: list[dict[str, Any]] = []
    for raw in data[: end + 1].splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            return parse_lines(f.read())
    except FileNotFoundError:
        return []
