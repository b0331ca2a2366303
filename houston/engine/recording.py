"""A task's changes of state: written to its state.json at once and emitted as events.

The one writer of a task's state on the engine's side: succeeded (with its result),
requeued (pending again, after a delay), failed (which closes a fail-fast mission),
cancelled, and skipped (a task it needs did not succeed).
"""

from __future__ import annotations

import os
import time
from typing import Any

from houston.core import dag
from houston.core.lifecycle import Reason
from houston.core.taskstate import TaskState
from houston.engine.emitter import Emitter
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.stopping import Stopper
from houston.home import taskfiles


class TaskRecorder:
    def __init__(self, emitter: Emitter, stopper: Stopper) -> None:
        self.emitter = emitter
        self.stopper = stopper

    def save_task(
        self,
        m: MissionRun,
        t: TaskRun,
        *,
        worker: int | None = None,
        extra: dict[str, Any] | None = None,
        write: bool = True,
    ) -> None:
        if write:
            task_dir = taskfiles.task_path(m.folder, t.id)
            if t.attempt == 0 or not os.path.isdir(task_dir):  # noqa: PTH112
                taskfiles.write_spec(m.folder, t.spec)  # never began: no folder yet
            taskfiles.write_state(
                m.folder,
                t.id,
                t.state,
                t.attempt,
                error=t.error,
                worker=worker,
                failures=t.failures,
                crashes=t.crashes,
            )
        m.dirty = True
        self.emitter.emit(
            "task.state",
            m.id,
            t.id,
            t.attempt,
            {"state": t.state, "error": t.error, "worker": worker, **(extra or {})},
        )

    def accept(
        self, m: MissionRun, t: TaskRun, result: dict[str, Any], run: Running | None = None
    ) -> None:
        """Mark the task succeeded; `run` given = the result still has to be linked."""
        if t.initializer and result.get("add_tasks"):
            try:
                added = m.add_tasks(t.id, result["add_tasks"])
            except ValueError as exc:
                self.fail_task(m, t, str(exc))
                return
            for task_id in added:
                self.emitter.emit(
                    "task.state", m.id, task_id, 0, {"state": TaskState.PENDING, "added_by": t.id}
                )
        if run is not None:
            taskfiles.accept_result(m.folder, t.id, result, run.folder)
        t.error = None
        m.set_state(t, TaskState.SUCCEEDED)
        self.save_task(m, t, write=run is not None)  # else result.json already says it

    def requeue(self, m: MissionRun, t: TaskRun, delay: float) -> None:
        t.not_before = time.monotonic() + delay
        m.set_state(t, TaskState.PENDING)
        self.save_task(m, t, extra={"retry_in": delay})

    def fail_task(
        self,
        m: MissionRun,
        t: TaskRun,
        error: str,
        reason: Reason = Reason.TASK_FAILED,
        figure: dict[str, Any] | None = None,
    ) -> None:
        """`figure`: a budget stop's limit and spend, kept in the closing record."""
        t.error = error
        m.set_state(t, TaskState.FAILED)
        self.save_task(m, t)
        if m.fail_fast or reason is Reason.BUDGET_EXCEEDED:
            self.stopper.close_mission(m, reason, {"task": t.id, "error": error, **(figure or {})})

    def cancel_task(self, m: MissionRun, t: TaskRun) -> None:
        t.error = "cancelled"
        m.set_state(t, TaskState.CANCELLED)
        self.save_task(m, t)

    def skip_doomed(self, m: MissionRun) -> None:
        """Pending tasks that can never run (a need failed, was cancelled or skipped)."""
        m.bad = False
        for _ in range(len(m.tasks) + 1):
            doomed = dag.doomed(m.nodes(), m.states())
            if not doomed:
                return
            for task_id in doomed:
                t = m.tasks[task_id]
                t.error = "a task it needs did not succeed"
                m.set_state(t, TaskState.SKIPPED)
                self.save_task(m, t)
            m.bad = False
