"""What each worker was sent to run: the engine's queue state, apart from the processes.

A worker runs the first job of its queue; the others wait their turn inside the worker
(it starts a job only when the previous one is done), where the engine may ask one back
(`retracting`). The network worker runs all of its jobs at once, up to its capacity.
The pool (houston.engine.pool) knows the processes only; the questions that need both
("an idle task worker", "room on the network worker") are answered here.
"""

from __future__ import annotations

from collections import deque

from houston.engine.pool import Pool, WorkerRecord
from houston.engine.protocol import Key


class JobQueues:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._jobs: dict[WorkerRecord, deque[Key]] = {}
        self._retracting: dict[WorkerRecord, set[Key]] = {}

    # -- one worker's queue ----------------------------------------------------------

    def jobs(self, worker: WorkerRecord) -> deque[Key]:
        """Its jobs in the order sent (read-only for callers: use push/pop/remove)."""
        return self._jobs.get(worker) or deque()

    def front(self, worker: WorkerRecord) -> Key | None:
        """The job it is running (or, for a queued one, will run first)."""
        jobs = self._jobs.get(worker)
        return jobs[0] if jobs else None

    def busy(self, worker: WorkerRecord) -> bool:
        return bool(self._jobs.get(worker))

    def holds(self, worker: WorkerRecord, key: Key) -> bool:
        return key in self._jobs.get(worker, ())

    def behind(self, worker: WorkerRecord) -> list[Key]:
        """The jobs waiting behind the running one."""
        return list(self._jobs.get(worker, ()))[1:]

    def push(self, worker: WorkerRecord, key: Key) -> None:
        self._jobs.setdefault(worker, deque()).append(key)

    def pop_front(self, worker: WorkerRecord) -> None:
        """Its running job is done: the next one (if any) runs now."""
        jobs = self._jobs.get(worker)
        if jobs:
            self.retracting(worker).discard(jobs.popleft())

    def remove(self, worker: WorkerRecord, key: Key) -> None:
        jobs = self._jobs.get(worker)
        if jobs is not None and key in jobs:
            jobs.remove(key)
        self.retracting(worker).discard(key)

    def retracting(self, worker: WorkerRecord) -> set[Key]:
        """Queued jobs asked back and not yet answered for."""
        return self._retracting.setdefault(worker, set())

    def forget(self, worker: WorkerRecord) -> list[Key]:
        """A dead worker: its jobs, first the one it was running."""
        self._retracting.pop(worker, None)
        return list(self._jobs.pop(worker, ()))

    # -- across the pool -------------------------------------------------------------

    def start_deferred_if_quiet(self) -> None:
        """Spawn the initializer slot once a task worker is up and no worker has a job.

        On a machine with few cores, an interpreter starting beside running tasks slows
        them down; an initializer that waits for its slot starts it at once (`idle`)."""
        pool = self.pool
        if not pool.deferred or any(self._jobs.values()):
            return
        if any(pool.task_workers(initializer=False)):
            pool.start_deferred()

    def idle(self, *, initializer: bool) -> WorkerRecord | None:
        # Asked for every ready task: a plain loop over the slots, no generator.
        workers, jobs = self.pool.workers, self._jobs
        if initializer and self.pool.deferred:
            self.pool.start_deferred()  # an initializer is ready: its slot starts now
        for slot in self.pool.slots(initializer=initializer):
            worker = workers.get(slot)
            if worker is not None and worker.ready and not worker.dead and not jobs.get(worker):
                return worker
        return None

    def running_one(self, mission: str) -> list[WorkerRecord]:
        """Task-slot workers running one job of `mission` with none queued behind it."""
        found = []
        for worker in self.pool.task_workers(initializer=False):
            jobs = self._jobs.get(worker)
            if jobs is not None and len(jobs) == 1 and jobs[0][0] == mission:
                found.append(worker)
        return found

    def io_worker(self) -> WorkerRecord | None:
        """The network worker if it has room for one more llm job (spawned on first ask)."""
        worker = self.pool.io_record()
        return worker if worker is not None and self._io_room(worker) else None

    def io_room(self) -> bool:
        worker = self.pool.io_if_up()
        return worker is not None and self._io_room(worker)

    def _io_room(self, worker: WorkerRecord) -> bool:
        return len(self._jobs.get(worker, ())) < self.pool.llm_concurrency

    def workers_with_queues(self) -> list[WorkerRecord]:
        """Task workers (not the network worker) with a job waiting behind another."""
        return [w for w, jobs in self._jobs.items() if len(jobs) > 1 and not w.dead and not w.io]
