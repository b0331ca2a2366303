"""A worker's side of the pipes to its engine: messages out, jobs in.

Jobs are read by a thread into an in-memory queue, so the engine can take back a job that
waits behind a running one (`{"retract": [mission, task]}`): if the job has not started,
it is dropped and the worker answers `{"type": "dropped", ...}`; if it has, nothing is
said and its `done` follows as usual. Messages to the engine are single JSON lines written
under a lock (the reading thread answers retracts while the main thread reports jobs).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import IO, Any

from houston.engine import protocol
from houston.engine.protocol import Claim, Dropped, WorkerMessage
from houston.runners import Job

_SEND_LOCK = threading.Lock()
_AGENTS: dict[str, dict[str, Any]] = {}  # agent ref -> its AGENT_KEYS, as first sent

# A job as the main thread takes it: (job, claim, None), or (None, None, why it is bad).
Item = tuple[Job | None, Claim | None, str | None]


def send(fd: int, message: WorkerMessage) -> None:
    """One message to the engine. If the engine is gone (its end of the pipe closed) the
    worker exits at once and quietly: what it did is on disk for recovery to judge."""
    data = protocol.encode(message)
    with _SEND_LOCK:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            os._exit(0)


def read_job(line: bytes) -> tuple[Job, Claim | None]:
    """The job and its claim in one line from the engine (houston.engine.protocol); the
    agent's definition is remembered from its first job for the worker's life."""
    return protocol.decode_job(line, _AGENTS)


class Inbox:
    """Lines from the engine, read by a thread and parsed by the main thread when it takes
    them (the thread holds the interpreter lock as little as it can)."""

    def __init__(self, msg_fd: int) -> None:
        self.msg_fd = msg_fd
        self.lines: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.closed = False

    def start(self, stream: IO[bytes]) -> threading.Thread:
        thread = threading.Thread(target=self.read_all, args=(stream,), name="inbox", daemon=True)
        thread.start()
        return thread

    def read_all(self, stream: IO[bytes]) -> None:
        """Queue every line on `stream` until it closes; answer retracts at once."""
        for line in stream:
            if line.startswith(protocol.RETRACT_PREFIX):
                self.retract(line)
                continue
            with self.cond:
                self.lines.append(line)
                self.cond.notify()
        with self.cond:
            self.closed = True
            self.cond.notify()

    def retract(self, line: bytes) -> None:
        key = protocol.decode_retract(line)
        if key is None:
            return
        with self.cond:
            found = next((queued for queued in self.lines if protocol.job_key(queued) == key), None)
            if found is not None:
                self.lines.remove(found)
                # Said before the main thread can take the next job: the engine learns
                # of the drop before any message about a job that ran after it.
                send(self.msg_fd, Dropped(key))

    def next(self) -> Item | None:
        """The next job, waiting for one; None once the engine closed the pipe."""
        with self.cond:
            while not self.lines and not self.closed:
                self.cond.wait()
            if not self.lines:
                return None
            line = self.lines.popleft()
        try:
            return (*read_job(line), None)
        except (ValueError, TypeError, KeyError) as exc:
            return (None, None, f"bad job: {exc}")
