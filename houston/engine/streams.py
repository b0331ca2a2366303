"""Per-thread attempt logs, for a worker that runs many attempts at once.

One process has one fd 1, so concurrent attempts cannot each own it. An `AttemptStreams`
stands in for `sys.stdout` (or `sys.stderr`): each thread binds it to its attempt folder,
and what the thread writes lands in that attempt's `stdout.log` (or `stderr.log`). The
file is created on the first write only: an absent log means an empty stream, as for
every attempt. Text written by a thread that is bound to nothing is dropped.
"""

from __future__ import annotations

import io
import os
import threading


class AttemptStreams(io.TextIOBase):
    def __init__(self, stream: str) -> None:
        super().__init__()
        self.stream = stream  # "stdout" or "stderr"
        self._local = threading.local()

    def bind(self, attempt_dir: str) -> None:
        self._local.path = f"{attempt_dir}/{self.stream}.log"
        self._local.fd = None

    def unbind(self) -> bool:
        """Close this thread's log; True if anything was written to it."""
        fd = getattr(self._local, "fd", None)
        self._local.path = self._local.fd = None
        if fd is None:
            return False
        os.close(fd)
        return True

    def write_bytes(self, data: bytes) -> None:
        path = getattr(self._local, "path", None)
        if path is None or not data:
            return
        if self._local.fd is None:
            self._local.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(self._local.fd, view) :]

    def write(self, text: str) -> int:
        self.write_bytes(text.encode("utf-8", "replace"))
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False
