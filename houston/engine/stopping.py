"""Stopping attempts (timeout, cancel, budget, engine stop) and closing missions.

A stop is asked politely first: SIGTERM to the agent's process group, then SIGKILL after
the grace period (`kill_at`, checked by the loop). An attempt of the network worker is
cancelled through its pipe; one that waits in a worker behind another job cannot be
reached but by killing that worker. Closing a mission stops each of its running attempts;
the mission moves once none is left (houston.engine.missions).
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Any

import psutil

from houston.core import budget
from houston.core.lifecycle import Reason
from houston.engine.active import ActiveMissions
from houston.engine.liveness import is_alive
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.options import EngineOptions
from houston.engine.pool import Pool, WorkerRecord
from houston.engine.queues import JobQueues
from houston.home import attemptfiles
from houston.runners.processes import signal_group, snapshot_tree

IO_STOP_GRACE = 5.0  # seconds the network worker has to answer a cancel


class Stopper:
    def __init__(
        self, pool: Pool, queues: JobQueues, active: ActiveMissions, options: EngineOptions
    ) -> None:
        self.pool = pool
        self.queues = queues
        self.active = active
        self.options = options

    def close_mission(self, m: MissionRun, reason: Reason, detail: dict[str, Any]) -> None:
        """Stop every running attempt; the mission moves once none is left."""
        if m.closing is not None:
            return
        m.closing = (reason, detail)
        why = "interrupted" if reason is Reason.RECOVERED else "cancelled"
        for t in m.running_tasks():
            self.stop_attempt(m, t, why)

    def stop_attempt(self, m: MissionRun, t: TaskRun, reason: str) -> None:
        run = t.running
        if run is None or run.stop_reason is not None:
            return
        run.stop_reason = reason
        worker = self.pool.workers.get(run.slot)
        if worker is not None and worker.io:
            self.stop_io_attempt(m, t, worker)
            return
        key = (m.id, t.id)
        if (
            worker is not None
            and len(self.queues.jobs(worker)) > 1
            and self.queues.holds(worker, key)
        ):
            self.stop_queued(worker)
            return
        now = time.monotonic()
        run.agent = run.agent or attemptfiles.read_agent(run.path)
        if run.agent and is_alive(run.agent):
            pid = run.agent.pid
            run.procs.update({p.pid: p for p in snapshot_tree(pid)})
            signal_group(pid, signal.SIGTERM)
            # Claude Code can go on with its turn after a SIGTERM: a short grace keeps a
            # cancel within a second (its session is saved as it goes).
            grace = min(self.options.grace, 0.5) if t.runner == "claude-code" else None
            run.kill_at = now + (self.options.grace if grace is None else grace)
        elif t.runner in ("command", "claude-code") and not run.agent:
            run.kill_at = now + min(self.options.grace, 0.5)  # wait for the agent's pid
        else:
            self.kill_attempt(m, t)

    def kill_attempt(self, m: MissionRun, t: TaskRun) -> None:
        """SIGKILL the attempt's agent group and the worker running it (the pool respawns)."""
        run = t.running
        if run is None:
            return
        run.kill_at = None
        if run.agent is None:
            run.agent = attemptfiles.read_agent(run.path)
        if run.agent and is_alive(run.agent):
            pid = run.agent.pid
            run.procs.update({p.pid: p for p in snapshot_tree(pid)})
            signal_group(pid, signal.SIGKILL)
        for proc in run.procs.values():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        worker = self.pool.workers.get(run.slot)
        if worker is not None and self.queues.holds(worker, (m.id, t.id)):
            self.pool.kill(worker)

    def stop_io_attempt(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        """Stop one attempt of the network worker, leaving its other attempts running."""
        run = t.running
        assert run is not None
        run.agent = run.agent or attemptfiles.read_agent(run.path)
        if run.agent and is_alive(run.agent):  # a tool's process (Bash) it registered
            pid = run.agent.pid
            run.procs.update({p.pid: p for p in snapshot_tree(pid)})
            signal_group(pid, signal.SIGTERM)
        self.pool.cancel(worker, (m.id, t.id), run.number)
        # Killing this worker would crash every attempt in it: give a loaded machine time
        # to answer the cancel (its reading thread does at once) before that last resort.
        run.kill_at = time.monotonic() + max(self.options.grace, IO_STOP_GRACE)

    def stop_queued(self, worker: WorkerRecord) -> None:
        """A job waits in the worker's pipe and must not start: kill the worker now. The
        running job is requeued unless it was being stopped anyway; waiting ones go back
        to pending when the engine reaps the worker."""
        found = self.active.task_of(worker)
        if found is None:
            self.pool.kill(worker)
            return
        m, t = found
        assert t.running is not None
        t.running.stop_reason = t.running.stop_reason or "interrupted"
        self.kill_attempt(m, t)

    def check_deadlines(self, m: MissionRun, now: float) -> None:
        """Stop attempts past their deadline; kill those past their grace."""
        for t in m.running_tasks():
            run = t.running
            if run is None:
                continue
            if run.stop_reason is None and run.deadline is not None and now >= run.deadline:
                run.stop_error = deadline_text(run)
                if run.deadline_reason == "budget_exceeded":  # the task's wall time
                    seconds = run.deadline - run.started_mono
                    run.budget_figure = budget.stop_figure(
                        f"task:{t.id}", "wall_time", seconds, seconds
                    )
                self.stop_attempt(m, t, run.deadline_reason)
            if run.kill_at is not None and now >= run.kill_at:
                self.kill_attempt(m, t)


def deadline_text(run: Running) -> str:
    """`timeout (30s)`, or `budget exceeded (wall time 10s of 10s)` for a task budget."""
    seconds = (run.deadline or run.started_mono) - run.started_mono
    if run.deadline_reason == "budget_exceeded":
        return budget.over_text("wall_time", seconds, seconds)
    return budget.stop_text(run.deadline_reason, seconds)
