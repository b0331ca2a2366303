"""Pipelining quick tasks: a job queued in a busy worker's pipe, taken back if it waits.

A mixin of `Engine` (houston.engine.engine), beside AttemptOps. When no worker is idle, a
task may be queued behind the one a worker runs, if that worker runs the same mission
and its agent's recent attempts took under QUICK seconds: the worker starts it the moment
the one before it is done, instead of idling while the engine turns its `done` into the
next job. A queued job whose predecessor runs longer than `retract_after` is asked back
(the worker drops it if it has not started); when a worker dies, each of its jobs is
judged by its files (lost_job).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from houston.core.taskstate import ExitReason, TaskState
from houston.engine import budget as bud
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.pool import WorkerRecord

if TYPE_CHECKING:
    from houston.engine.engine import EngineOptions
    from houston.engine.pool import Pool

QUICK = 0.05  # seconds: a task is queued behind a running one only if its agent is this fast


class Pipelining:
    if TYPE_CHECKING:  # provided by Engine and AttemptOps
        options: EngineOptions
        pool: Pool
        missions: dict[str, MissionRun]
        durations: dict[str, tuple[float, int]]  # agent -> (recent seconds, attempts seen)

        def set_worker(self, worker: WorkerRecord, state: str, mission: str | None,
                       task: str | None) -> None: ...

        def announce(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None: ...

        def task_of(self, worker: WorkerRecord) -> tuple[MissionRun, TaskRun] | None: ...

        def running_task(self, key: tuple[str, str]) -> tuple[MissionRun, TaskRun] | None: ...

        def kill_attempt(self, m: MissionRun, t: TaskRun) -> None: ...

        def finish_attempt(self, m: MissionRun, t: TaskRun,
                           msg: dict[str, Any] | None) -> None: ...

        def save_task(self, m: MissionRun, t: TaskRun, *, worker: int | None = None,
                      extra: dict[str, Any] | None = None, write: bool = True) -> None: ...

    def prefetch_worker(self, m: MissionRun) -> WorkerRecord | None:
        """A worker to queue one more task of `m` behind the quick one it is running.

        A warm worker otherwise idles while the engine turns its `done` into the next job;
        a job already in its pipe starts at once. Only behind an agent whose recent
        attempts took under QUICK seconds, so nothing waits long behind a slow task.
        """
        now = time.monotonic()
        for worker in self.pool.running(m.id):
            front = m.tasks.get(worker.jobs[0][1])
            run = front.running if front is not None else None
            if (front is not None and run is not None and now - run.started_mono < QUICK
                    and self.is_quick(str(front.spec["agent"]))):
                return worker
        return None

    def retract_stuck(self, now: float) -> None:
        """Jobs queued behind one that turned out slow are asked back, to run elsewhere."""
        for worker in self.pool.workers.values():
            if len(worker.jobs) < 2 or worker.dead or worker.io:
                continue
            found = self.task_of(worker)
            run = found[1].running if found else None
            if run is not None and now - run.started_mono >= self.options.retract_after:
                for key in list(worker.jobs)[1:]:
                    if key not in worker.retracting:
                        self.pool.retract(worker, key)

    def retract_due(self) -> float | None:
        """When the next queued job will have waited too long (for the loop's timeout)."""
        due = []
        for worker in self.pool.workers.values():
            if worker.io or not set(list(worker.jobs)[1:]) - worker.retracting:
                continue
            found = self.task_of(worker)
            if found and found[1].running is not None:
                due.append(found[1].running.started_mono + self.options.retract_after)
        return min(due) if due else None

    def is_quick(self, agent: str) -> bool:
        seconds, seen = self.durations.get(agent, (0.0, 0))
        return seen >= 3 and seconds < QUICK

    def note_duration(self, t: TaskRun, msg: dict[str, Any]) -> None:
        started, finished = msg.get("started"), msg.get("finished")
        if not isinstance(started, float) or not isinstance(finished, float):
            return
        agent = str(t.spec["agent"])
        seconds, seen = self.durations.get(agent, (finished - started, 0))
        self.durations[agent] = (0.7 * seconds + 0.3 * (finished - started), seen + 1)

    def lost_job(self, key: tuple[str, str]) -> None:
        """A job of a worker that died. If its attempt folder exists it began (even when
        the engine had not read the `done` before it): it ends like any attempt of a dead
        worker. Otherwise it never started."""
        found = self.running_task(key)
        if found is None:
            return
        m, t = found
        assert t.running is not None
        if os.path.isdir(t.running.path):  # noqa: PTH112
            self.finish_attempt(m, t, None)
        else:
            self.never_started(key)

    def never_started(self, key: tuple[str, str]) -> None:
        """A job that never began: back to pending, and its attempt number is free."""
        found = self.running_task(key)
        if found is None:
            return
        m, t = found
        run = m.end(t, bud.Usage())
        t.attempt = run.number - 1  # its folder was never made: the number is free
        t.not_before = 0.0
        m.set_state(t, TaskState.PENDING)
        self.save_task(m, t, write=False)

    def next_job(self, worker: WorkerRecord) -> None:
        """The worker went straight on to the job queued behind, or is idle now."""
        found = self.task_of(worker)
        if found is None or found[1].running is None:
            self.set_worker(worker, "idle", None, None)
            return
        found[1].running.arm(time.monotonic(), time.time())
        if worker.jobs[0] in worker.retracting:
            found[1].running.queued = True  # it may have been dropped: announce when known
        else:
            self.announce(*found, worker)

    def on_dropped(self, worker: WorkerRecord, key: tuple[str, str]) -> None:
        """A retracted job had not started: back to pending, to run on any worker."""
        if key not in worker.jobs:
            return
        was_front = worker.jobs[0] == key
        worker.jobs.remove(key)
        worker.retracting.discard(key)
        self.never_started(key)
        if was_front:  # its predecessor's `done` came first; the worker is on the next
            self.next_job(worker)

    def stop_worker_jobs(self, worker: WorkerRecord) -> None:
        """A job waits in the worker's pipe and must not start: kill the worker now. The
        running job is requeued unless it was being stopped anyway; waiting ones go back
        to pending when the engine reaps the worker (handle_dead_workers)."""
        found = self.task_of(worker)
        if found is None:
            self.pool.kill(worker)
            return
        m, t = found
        assert t.running is not None
        t.running.stop_reason = t.running.stop_reason or ExitReason.INTERRUPTED
        self.kill_attempt(m, t)
