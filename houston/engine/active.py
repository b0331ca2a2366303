"""The missions this engine runs, and those it finished, with the lookups its parts share."""

from __future__ import annotations

from houston.core.lifecycle import Outcome, Reason
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.pool import WorkerRecord
from houston.engine.protocol import Key
from houston.engine.queues import JobQueues


class ActiveMissions:
    def __init__(self, queues: JobQueues) -> None:
        self.queues = queues
        self.runs: dict[str, MissionRun] = {}
        self.finished: dict[str, tuple[Outcome, Reason]] = {}

    def running_task(self, key: Key) -> tuple[MissionRun, TaskRun] | None:
        """The mission and task of a job whose attempt is live (running or queued)."""
        m = self.runs.get(key[0])
        t = m.tasks.get(key[1]) if m else None
        if m is None or t is None or t.running is None:
            return None
        return m, t

    def task_of(self, worker: WorkerRecord) -> tuple[MissionRun, TaskRun] | None:
        """The running (or queued) task of the job the worker is on."""
        key = self.queues.front(worker)
        return self.running_task(key) if key else None
