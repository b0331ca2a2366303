"""The engine's controls shared by its parts: the stop request, the wake-up pipe, and the
"look again" flag (rescan) that makes the next loop turn claim and reconcile at once.

`wake` and `request_stop` are thread- and signal-safe: the filesystem watcher and the
signal handlers call them; everything else runs in the engine's own thread.
"""

from __future__ import annotations

import contextlib
import os
import select
import time


class Control:
    def __init__(self) -> None:
        self.stop_mode: str | None = None  # None | "graceful" | "force"
        self.rescan = True
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)

    @property
    def forced(self) -> bool:
        return self.stop_mode == "force"

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def request_stop(self, force: bool = False) -> None:
        self.stop_mode = "force" if force or self.stop_mode else "graceful"
        self.wake()

    def drain(self) -> None:
        """The wake-ups were seen: look at everything again on this turn."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_fd, 4096)
        self.rescan = True

    def nap(self, seconds: float) -> None:
        """Sleep during a pause, waking early for a forced stop only: the watcher's
        wake-ups (our own retried writes among them) would make it a busy loop."""
        deadline = time.monotonic() + seconds
        for _ in range(10_000):
            left = deadline - time.monotonic()
            if left <= 0 or self.forced:
                return
            readable, _, _ = select.select([self.wake_fd], [], [], left)
            if readable:
                self.drain()

    def close(self) -> None:
        for fd in (self.wake_fd, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
