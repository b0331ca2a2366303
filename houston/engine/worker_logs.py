"""The log files of a worker's attempts (fds 1 and 2 point at them while an attempt runs)."""

from __future__ import annotations

import os
import time

from houston.home import attemptfiles


class LogFiles:
    """stdout.log and stderr.log of attempts, without creating two files per attempt.

    Creating inodes is what a task costs most on a filesystem. A pair of empty scratch
    files (in missions/.tmp, the same filesystem) is renamed into the attempt folder when
    it starts, so logs are live where readers look; a log still empty at the end is
    renamed back and reused (an absent log means an empty one).
    """

    def __init__(self) -> None:
        self.scratch: dict[str, tuple[int, str]] = {}

    def attach(self, attempt: str, tmp: str) -> tuple[int, int]:
        """The attempt's two log fds; `tmp` is the scratch folder (missions/.tmp)."""
        fds = []
        for stream in attemptfiles.LOG_STREAMS:
            if stream not in self.scratch and os.path.isdir(tmp):  # noqa: PTH112
                path = f"{tmp}/.worker-{os.getpid()}-{stream}-{time.monotonic_ns()}.log"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self.scratch[stream] = (fd, path)
            try:
                fd, path = self.scratch[stream]
                os.rename(path, attemptfiles.log_path(attempt, stream))
            except (OSError, KeyError):  # no scratch folder, or it was cleaned: a plain file
                if stream in self.scratch:
                    os.close(self.scratch.pop(stream)[0])
                path = attemptfiles.log_path(attempt, stream)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self.scratch[stream] = (fd, path)
            fds.append(fd)
        return fds[0], fds[1]

    def detach(self, attempt: str) -> bool:
        """Give empty logs back to the scratch pool; True if anything was logged."""
        wrote = False
        for stream in attemptfiles.LOG_STREAMS:
            fd, path = self.scratch[stream]
            if os.fstat(fd).st_size == 0:
                try:
                    os.rename(attemptfiles.log_path(attempt, stream), path)
                    continue
                except OSError:
                    pass
            wrote = wrote or os.fstat(fd).st_size > 0
            os.close(fd)
            del self.scratch[stream]
        return wrote
