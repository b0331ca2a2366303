"""The engine's events: recorded in memory as they happen, appended to the log in one
batch per loop turn (`flush`), and shown to the observer (the terminal's progress) at once.
"""

from __future__ import annotations

import time
from typing import Any

from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.options import Observer
from houston.engine.pool import WorkerRecord
from houston.home import fsio
from houston.home.events import EventLog, Pending
from houston.home.layout import Home


class Emitter:
    def __init__(self, home: Home, observer: Observer | None) -> None:
        self.home = home
        self.log = EventLog(home.events)
        self.observer = observer
        self._pending: list[Pending] = []

    def emit(
        self,
        type_: str,
        mission: str | None,
        task: str | None,
        attempt: int | None,
        data: dict[str, Any],
    ) -> None:
        """Record an event; the log gets each loop's events in one append (flush)."""
        self._pending.append((type_, mission, task, attempt, data, time.time()))
        if self.observer is not None:
            self.observer(type_, mission, task, attempt, data)

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            fsio.persist(lambda: self.log.append_many(batch), self.home.events)

    def worker_state(
        self, worker: WorkerRecord, state: str, mission: str | None, task: str | None
    ) -> None:
        self.emit(
            "worker.state",
            mission,
            task,
            None,
            {"slot": worker.slot, "state": state, "pid": worker.pid},
        )

    def attempt_started(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        """The attempt started on `worker` (at dispatch, or when the job before it ended)."""
        assert t.running is not None
        self.emit(
            "task.state",
            m.id,
            t.id,
            t.attempt,
            {"state": t.state, "error": None, "worker": worker.slot},
        )
        self.emit(
            "attempt.start",
            m.id,
            t.id,
            t.attempt,
            {"worker": worker.slot, "agent": t.spec.agent, "runner": t.runner},
        )
        self.worker_state(worker, "busy", m.id, t.id)

    def close(self) -> None:
        self.flush()
        self.log.close()
