"""Pipelining quick tasks: a job queued in a busy worker's pipe, taken back if it waits.

When no worker is idle, a task may be queued behind the one a worker runs, if that
worker runs the same mission and its agent's recent attempts took under `quick_below`
seconds (an engine option, 50 ms by default): the worker starts it the moment the one
before it is done, instead of idling while the engine turns its `done` into the next job.
A queued job whose predecessor runs longer than `retract_after` is asked back (the
worker drops it if it has not started). The queues themselves are houston.engine.queues;
this part keeps the agents' durations.
"""

from __future__ import annotations

import time

from houston.core import budget
from houston.core.taskstate import TaskState
from houston.engine.active import ActiveMissions
from houston.engine.emitter import Emitter
from houston.engine.mission_run import MissionRun
from houston.engine.options import EngineOptions
from houston.engine.pool import Pool, WorkerRecord
from houston.engine.protocol import Done, Key
from houston.engine.queues import JobQueues
from houston.engine.recording import TaskRecorder


class Pipelining:
    def __init__(
        self,
        pool: Pool,
        queues: JobQueues,
        active: ActiveMissions,
        options: EngineOptions,
        emitter: Emitter,
        recorder: TaskRecorder,
    ) -> None:
        self.pool = pool
        self.queues = queues
        self.active = active
        self.options = options
        self.emitter = emitter
        self.recorder = recorder
        self.durations: dict[str, tuple[float, int]] = {}  # agent -> (recent s, attempts)

    def prefetch_worker(self, m: MissionRun) -> WorkerRecord | None:
        """A worker to queue one more task of `m` behind the quick one it is running.

        A warm worker otherwise idles while the engine turns its `done` into the next job;
        a job already in its pipe starts at once. Only behind an agent whose recent
        attempts took under `quick_below` seconds, so nothing waits long behind a slow task.
        """
        now = time.monotonic()
        for worker in self.queues.running_one(m.id):
            front = m.tasks.get(self.queues.jobs(worker)[0][1])
            run = front.running if front is not None else None
            if (
                front is not None
                and run is not None
                and now - run.started_mono < self.options.quick_below
                and self.is_quick(front.spec.agent)
            ):
                return worker
        return None

    def retract_stuck(self, now: float) -> None:
        """Jobs queued behind one that turned out slow are asked back, to run elsewhere."""
        for worker in self.queues.workers_with_queues():
            found = self.active.task_of(worker)
            run = found[1].running if found else None
            if run is not None and now - run.started_mono >= self.options.retract_after:
                retracting = self.queues.retracting(worker)
                for key in self.queues.behind(worker):
                    if key not in retracting:
                        retracting.add(key)
                        self.pool.retract(worker, key)

    def retract_due(self) -> float | None:
        """When the next queued job will have waited too long (for the loop's timeout)."""
        due = []
        for worker in self.queues.workers_with_queues():
            if not set(self.queues.behind(worker)) - self.queues.retracting(worker):
                continue
            found = self.active.task_of(worker)
            if found and found[1].running is not None:
                due.append(found[1].running.started_mono + self.options.retract_after)
        return min(due) if due else None

    def is_quick(self, agent: str) -> bool:
        seconds, seen = self.durations.get(agent, (0.0, 0))
        return seen >= 3 and seconds < self.options.quick_below

    def note_duration(self, agent: str, done: Done) -> None:
        if done.started is None or done.finished is None:
            return
        took = done.finished - done.started
        seconds, seen = self.durations.get(agent, (took, 0))
        self.durations[agent] = (0.7 * seconds + 0.3 * took, seen + 1)

    def never_started(self, key: Key) -> None:
        """A job that never began: back to pending, and its attempt number is free."""
        found = self.active.running_task(key)
        if found is None:
            return
        m, t = found
        run = m.end(t, budget.Usage())
        t.attempt = run.number - 1  # its folder was never made: the number is free
        t.not_before = 0.0
        m.set_state(t, TaskState.PENDING)
        self.recorder.save_task(m, t, write=False)

    def next_job(self, worker: WorkerRecord) -> None:
        """The worker went straight on to the job queued behind, or is idle now."""
        found = self.active.task_of(worker)
        if found is None or found[1].running is None:
            self.emitter.worker_state(worker, "idle", None, None)
            return
        found[1].running.arm(time.monotonic(), time.time())
        if self.queues.jobs(worker)[0] in self.queues.retracting(worker):
            found[1].running.queued = True  # it may have been dropped: announce when known
        else:
            self.emitter.attempt_started(*found, worker)

    def on_dropped(self, worker: WorkerRecord, key: Key) -> None:
        """A retracted job had not started: back to pending, to run on any worker."""
        if not self.queues.holds(worker, key):
            return
        was_front = self.queues.front(worker) == key
        self.queues.remove(worker, key)
        self.never_started(key)
        if was_front:  # its predecessor's `done` came first; the worker is on the next
            self.next_job(worker)
