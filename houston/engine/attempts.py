"""The life of one attempt inside the engine: start it on a worker, and settle its end.

Every state change of a task is written to its state.json at once and emitted as an
event (houston.engine.recording). An attempt ends with its worker's `done` message, or
with its worker's death, judged then from the files it left (houston.engine.attempt_outcome).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import replace
from typing import Any

import psutil

from houston.agents.catalog import AgentCatalog, AgentSpec
from houston.core import budget
from houston.core.errors import HoustonError
from houston.core.lifecycle import Reason
from houston.core.taskstate import (
    ExitReason,
    Settlement,
    TaskState,
    crash_cap_of,
    settle_attempt,
)
from houston.core.timestamps import iso_from_epoch
from houston.engine.active import ActiveMissions
from houston.engine.attempt_outcome import (
    attempt_reason,
    crash_cap_error,
    crash_history,
    left_behind,
    record_exit,
    save_worktree,
)
from houston.engine.emitter import Emitter
from houston.engine.iodispatch import WorkerChoice
from houston.engine.liveness import is_alive, stop_agent
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.options import EngineOptions
from houston.engine.pipelining import Pipelining
from houston.engine.pool import Pool, WorkerRecord
from houston.engine.protocol import Claim, Done, Key
from houston.engine.queues import JobQueues
from houston.engine.recording import TaskRecorder
from houston.engine.sampling import Sampler
from houston.engine.spending import BudgetKeeper
from houston.home import attemptfiles, claims, killpoints, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.home.layout import Home
from houston.home.records import ExitRecord
from houston.runners import Job
from houston.runners.processes import kill_attempt_processes

CLAIM_FAILURE_CAP = 10


class Attempts:
    def __init__(
        self,
        home: Home,
        options: EngineOptions,
        pool: Pool,
        queues: JobQueues,
        catalog: AgentCatalog,
        active: ActiveMissions,
        emitter: Emitter,
        recorder: TaskRecorder,
        budgets: BudgetKeeper,
        choice: WorkerChoice,
        sampler: Sampler,
        pipelining: Pipelining,
    ) -> None:
        self.home = home
        self.options = options
        self.pool = pool
        self.queues = queues
        self.catalog = catalog
        self.active = active
        self.emitter = emitter
        self.recorder = recorder
        self.budgets = budgets
        self.choice = choice
        self.sampler = sampler
        self.pipelining = pipelining
        self._agents: dict[str, tuple[dict[str, Any], Any]] = {}

    # -- starting -------------------------------------------------------------------

    def start_attempt(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        ref = t.spec.agent
        try:
            agent, package_dir = self.catalog.find(ref)
            agent_dict, agent_budget = self.agent_data(ref, agent)
            agent_dict, job_env = self.choice.llm_endpoint(agent, agent_dict)
        except HoustonError as exc:
            self.recorder.fail_task(m, t, str(exc).splitlines()[0])
            return
        t.limits = limits = budget.Limits.from_dict(t.spec.budget or agent_budget)
        timeout = t.spec.timeout or agent.timeout
        run = self._begin(m, t, worker, agent, (timeout, limits.max_wall_time))
        job = Job(
            mission_id=m.id,
            task_id=t.id,
            attempt=run.number,
            agent_ref=ref,
            agent=agent_dict,
            prompt=agent.prompt,
            package_dir=str(package_dir),
            inputs=dict(t.spec.inputs),
            mission_dir=str(m.folder),
            attempt_dir=run.path,
            timeout=timeout,
            env=job_env,
            budget={**limits.__dict__, **self.budgets.mission_share(m, t)},
            needs=list(t.spec.needs),
        )
        # The worker claims the task (mkdir lock, owner.json = itself and its slot), and on
        # success accepts the result and releases the lock into the attempt folder: that
        # work runs in parallel on the workers instead of serially in the engine.
        claim = Claim(slot=worker.slot, spec=t.spec, accept=not t.initializer)
        if not run.queued:
            self.emitter.attempt_started(m, t, worker)
        self.queues.push(worker, (m.id, t.id))
        self.pool.send(worker, job, claim)

    def _begin(
        self,
        m: MissionRun,
        t: TaskRun,
        worker: WorkerRecord,
        agent: AgentSpec,
        windows: tuple[Any, float | None],
    ) -> Running:
        """The task's next attempt, running (or queued in the worker's pipe) from now."""
        number = t.attempt + 1
        folder = taskfiles.attempt_path(m.folder, t.id, number)  # str: pathlib costs here
        now_mono, now_wall = time.monotonic(), time.time()
        run = Running(number, worker.slot, folder, "", now_wall, now_mono)
        run.windows = tuple(
            (float(limit), why)
            for limit, why in zip(windows, ("timeout", "budget_exceeded"), strict=True)
            if limit
        )
        # The network worker runs all its jobs at once: none of them waits there.
        run.queued = self.queues.busy(worker) and not worker.io
        if not run.queued:
            run.arm(now_mono, now_wall)
        t.attempt = number
        m.begin(t, run)
        retries = t.spec.retries
        t.retries = int(agent.retries or 0) if retries is None else int(retries)
        t.runner = agent.runner_name
        return run

    def agent_data(self, ref: str, agent: AgentSpec) -> tuple[dict[str, Any], Any]:
        """The agent as a worker receives it, and its budget; dumped once per engine."""
        if ref not in self._agents:
            agent_budget = agent.budget.model_dump() if agent.budget else None
            self._agents[ref] = (agent.job_dict(), agent_budget)
        return self._agents[ref]

    def break_leftover_lock(self, m: MissionRun, t: TaskRun) -> None:
        """A lock in a mission we own on a task we are not running: its owner is dead."""
        task_dir = taskfiles.task_dir(m.folder, t.id)
        owner = claims.read_owner(task_dir)
        if owner is not None and is_alive(owner):
            return
        if owner is not None:
            old = attemptfiles.read_agent(taskfiles.attempt_path(m.folder, t.id, owner.attempt))
            if old:
                stop_agent(old, grace=self.options.grace)
        with claims.recovery_lock(self.home):
            claims.break_stale_lock(task_dir, owner.nonce if owner else None)

    # -- finishing ------------------------------------------------------------------

    def lost_job(self, key: Key) -> None:
        """A job of a worker that died. If its attempt folder exists it began (even when
        the engine had not read the `done` before it): it ends like any attempt of a dead
        worker. Otherwise it never started."""
        found = self.active.running_task(key)
        if found is None:
            return
        m, t = found
        assert t.running is not None
        if os.path.isdir(t.running.path):  # noqa: PTH112
            self.finish_attempt(m, t, None)
        else:
            self.pipelining.never_started(key)

    def finish_attempt(self, m: MissionRun, t: TaskRun, done: Done | None) -> None:
        """`done` is the worker's message, or None when the worker died."""
        assert t.running is not None
        if done is not None and done.claim_failed:
            self.claim_failed(m, t, done.claim_failed)
            return
        if done is None:
            usage = t.running.usage
        else:
            spent = done.usage or UsageRecord()
            usage = budget.Usage(spent.tokens, spent.cost)
        run = m.end(t, usage)
        died = done is None
        if done is None:  # the agent may have finished before its worker died: never rerun
            done = left_behind(m, t, run)
        reason = attempt_reason(run, done)
        self._clean_up(m, t, run, reason, done, died)
        error = self._error(run, reason, done)
        self._record_end(m, t, (run, usage), reason, error, done, died)
        accepted = bool(done and done.accepted)
        self.settle(
            m,
            t,
            reason,
            error,
            done.result if done else None,
            None if accepted else run,
            figure=run.budget_figure,
        )
        if died:  # record first (exit.json, state.json), release second
            killpoints.reached("finish.recorded")
            self.break_leftover_lock(m, t)

    def _record_end(
        self,
        m: MissionRun,
        t: TaskRun,
        ended: tuple[Running, budget.Usage],
        reason: str,
        error: str | None,
        done: Done | None,
        died: bool,
    ) -> None:
        """The attempt's exit.json, a result it may no longer keep, its `attempt.end`."""
        run, usage = ended
        finished = (done.finished if done else None) or time.time()
        started = (done.started if done else None) or run.started_wall
        record_exit(run, reason, error, done, died, (started, finished))
        if done is not None and done.accepted and reason != "succeeded":
            taskfiles.drop_result(m.folder, t.id)
        self.emitter.emit(
            "attempt.end",
            m.id,
            t.id,
            run.number,
            {
                "reason": reason,
                "error": error,
                "duration": round(finished - started, 6),
                "usage": usage.to_dict(),
            },
        )

    def _clean_up(
        self, m: MissionRun, t: TaskRun, run: Running, reason: str, done: Done | None, died: bool
    ) -> None:
        """What an ended attempt leaves to the engine: orphans to kill, a dead worker's
        usage to record, a failed worktree to save, the last of its logs to tail."""
        if died or run.stop_reason is not None:
            self.kill_orphans(t, run, worker_died=died)
        if died:  # keeping the model and token split the worker wrote as it went
            known = attemptfiles.read_usage(run.path) or UsageRecord()
            spent = replace(known, tokens=run.usage.tokens, cost=run.usage.cost)
            attemptfiles.write_usage(run.path, spent, missing_ok=True)
        if reason != "succeeded" and attemptfiles.has_workspace(run.path):
            save_worktree(run.path, reason)
        if done is None or done.logs:
            self.sampler.tail_logs(m, t, run)

    @staticmethod
    def _error(run: Running, reason: str, done: Done | None) -> str | None:
        # A dead worker's attempt rebuilt from its files (left_behind) names no error.
        error = (done.error if done else None) or ("the worker died" if done is None else None)
        if reason == "interrupted" and done is not None and done.environment:
            error = f"interrupted: {done.environment} (not counted against its retries)"
        if run.stop_reason is not None and reason == run.stop_reason:
            # We stopped it: say why, not how it died (SIGTERM, a killed worker).
            error = run.stop_error or budget.stop_text(reason)
        return error

    def claim_failed(self, m: MissionRun, t: TaskRun, why: str) -> None:
        """The worker could not claim: a leftover attempt folder or lock from a past life."""
        run = m.end(t, budget.Usage())
        if why == "attempt_exists":
            t.attempt = max([t.attempt, *taskfiles.attempt_numbers(m.folder, t.id)])
        else:  # the worker made this attempt's folder: it gets its record, then the lock goes
            now = iso_from_epoch(time.time())
            attemptfiles.write_exit(
                run.path,
                ExitRecord(
                    ExitReason.INTERRUPTED,
                    started=now,
                    finished=now,
                    duration=0.0,
                    error=f"could not claim the task: {why}",
                ),
            )
            self.break_leftover_lock(m, t)
        # Not a crash (no process of the attempt died), but bounded all the same.
        t.claim_failures += 1
        if t.claim_failures > CLAIM_FAILURE_CAP:
            self.recorder.fail_task(m, t, f"could not claim the task: {why}")
        else:
            self.recorder.requeue(m, t, 0.0)

    def kill_orphans(self, t: TaskRun, run: Running, worker_died: bool) -> None:
        """No agent may survive its attempt (the worker died or we stopped it)."""
        agent = run.agent or attemptfiles.read_agent(run.path)
        if agent and is_alive(agent):
            stop_agent(agent, grace=0.0)
        for proc in run.procs.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()
        if worker_died and t.runner in ("command", "claude-code"):
            kill_attempt_processes(run.path)  # never recorded, or escaped its group

    def settle(
        self,
        m: MissionRun,
        t: TaskRun,
        reason: str,
        error: str | None,
        result: Any,
        run: Running | None,
        figure: dict[str, Any] | None = None,
    ) -> None:
        """Apply the decision after an attempt ended for `reason` (core.taskstate);
        `figure`: a budget stop's limit and spend (the attempt's worker may have accepted
        its result before the stop, so `run` is not always given)."""
        decision = settle_attempt(
            reason,
            error,
            failures=t.failures,
            crashes=t.crashes,
            retries=t.retries,
            crash_cap=self.crash_cap(m, t),
            backoff_base=self.options.backoff_base,
        )
        t.failures, t.crashes = decision.failures, decision.crashes
        if decision.state is TaskState.SUCCEEDED:
            self.recorder.accept(m, t, result if isinstance(result, dict) else {}, run)
        elif decision.state is TaskState.PENDING:
            if not decision.keeps_error:
                t.error = decision.error
            self.recorder.requeue(m, t, decision.delay)
        elif decision.state is TaskState.CANCELLED:
            self.recorder.cancel_task(m, t)
        else:
            self._fail(m, t, reason, decision, figure)

    def _fail(
        self,
        m: MissionRun,
        t: TaskRun,
        reason: str,
        decision: Settlement,
        figure: dict[str, Any] | None,
    ) -> None:
        """The task failed for good: by the crash cap, its budget, or its retries spent."""
        if decision.crash_capped:
            cap = self.crash_cap(m, t)
            self.recorder.fail_task(m, t, crash_cap_error(cap, t.crashes, crash_history(m, t)))
        elif reason == ExitReason.BUDGET_EXCEEDED:
            self.recorder.fail_task(m, t, decision.error or reason, Reason.BUDGET_EXCEEDED, figure)
        else:
            self.recorder.fail_task(m, t, decision.error or reason)

    def crash_cap(self, m: MissionRun, t: TaskRun) -> int:
        """The task's `crash_cap`, else its mission's, else the engine's (3)."""
        return crash_cap_of(t.spec.crash_cap, m.spec.crash_cap, self.options.crash_cap)
