"""The life of one attempt inside the engine: start, messages, stop, finish, samples.

A mixin of `Engine` (houston.engine.engine) so that the loop module stays small. Every
state change of a task is written to its state.json at once and emitted as an event.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import psutil

from houston import killpoints
from houston.engine import budget as bud
from houston.engine import claims
from houston.engine import scheduler as sch
from houston.engine import taskfiles as tf
from houston.engine.attempt_outcome import (
    attempt_reason,
    crash_cap_error,
    crash_history,
    iso_ts,
    left_behind,
    worker_reason,
)
from houston.engine.liveness import (
    is_alive,
    kill_attempt_processes,
    signal_group,
    snapshot_tree,
    stop_agent,
)
from houston.engine.mission_run import MissionRun, Running, TaskRun
from houston.engine.pool import WorkerRecord
from houston.errors import HoustonError
from houston.lifecycle import Reason
from houston.runners import Job

CLAIM_FAILURE_CAP = 10

if TYPE_CHECKING:
    from houston.agents import AgentCatalog, AgentSpec
    from houston.engine.engine import EngineOptions
    from houston.engine.pool import Pool
    from houston.home import Home


class AttemptOps:
    if TYPE_CHECKING:  # provided by Engine
        home: Home
        options: EngineOptions
        pool: Pool
        catalog: AgentCatalog
        missions: dict[str, MissionRun]

        def emit(self, type_: str, mission: str | None, task: str | None,
                 attempt: int | None, data: dict[str, Any]) -> None: ...

        def set_worker(self, worker: WorkerRecord, state: str, mission: str | None,
                       task: str | None) -> None: ...

        def close_mission(self, m: MissionRun, reason: Reason,
                          detail: dict[str, Any]) -> None: ...

        def tail_logs(self, m: MissionRun, t: TaskRun, run: Running) -> None: ...

        def next_job(self, worker: WorkerRecord) -> None: ...

        def on_dropped(self, worker: WorkerRecord, key: tuple[str, str]) -> None: ...

        def note_duration(self, t: TaskRun, msg: dict[str, Any]) -> None: ...

        def stop_worker_jobs(self, worker: WorkerRecord) -> None: ...

        def stop_io_attempt(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None: ...

        def llm_endpoint(self, agent: AgentSpec, agent_dict: dict[str, Any]
                         ) -> tuple[dict[str, Any], dict[str, str]]: ...

    # -- starting -------------------------------------------------------------------

    def start_attempt(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        try:
            agent, package_dir = self.catalog.find(str(t.spec["agent"]))
        except HoustonError as exc:
            self.fail_task(m, t, str(exc).splitlines()[0])
            return
        agent_dict, agent_budget = self.agent_data(str(t.spec["agent"]), agent)
        try:
            agent_dict, job_env = self.llm_endpoint(agent, agent_dict)
        except HoustonError as exc:
            self.fail_task(m, t, str(exc).splitlines()[0])
            return
        limits = bud.Limits.from_dict(t.spec.get("budget") or agent_budget)
        number = t.attempt + 1
        task_dir = f"{m.folder}/tasks/{t.id}"  # str paths: pathlib costs on the hot path
        folder = f"{task_dir}/attempts/{number}"
        now_mono, now_wall = time.monotonic(), time.time()
        timeout = t.spec.get("timeout") or agent.timeout
        run = Running(number, worker.slot, folder, "", now_wall, now_mono)
        run.windows = tuple((float(limit), why) for limit, why in (
            (timeout, "timeout"), (limits.max_wall_time, "budget_exceeded")) if limit)
        run.queued = bool(worker.jobs) and not worker.io  # the network worker runs all
        if not run.queued:
            run.arm(now_mono, now_wall)
        t.attempt = number
        m.begin(t, run)
        retries = t.spec.get("retries")
        t.retries = int(agent.retries or 0) if retries is None else int(retries)
        t.runner = agent.runner_name
        job = Job(
            mission_id=m.id, task_id=t.id, attempt=number, agent_ref=str(t.spec["agent"]),
            agent=agent_dict, prompt=agent.prompt, package_dir=str(package_dir),
            inputs=dict(t.spec.get("inputs") or {}), mission_dir=str(m.folder),
            attempt_dir=folder, timeout=timeout, env=job_env,
            budget={**limits.__dict__, **self.mission_share(m, t)},
            needs=list(t.spec.get("needs") or ()),
        )
        # The worker claims the task (mkdir lock, owner.json = itself and its slot), and on
        # success accepts the result and releases the lock into the attempt folder: that
        # work runs in parallel on the workers instead of serially in the engine.
        claim = {"slot": worker.slot,
                 "spec": t.spec, "accept": not t.initializer}
        if not run.queued:
            self.announce(m, t, worker)
        self.pool.send(worker, {"job": job.to_dict(), "claim": claim}, (m.id, t.id))

    def mission_share(self, m: MissionRun, t: TaskRun) -> dict[str, Any]:
        """The mission's tokens this attempt may use: the reservations of the others (its
        own, just made by begin, is what it may spend) and what was spent are taken off."""
        own = bud.Limits.from_dict(t.spec.get("budget")).max_tokens or 0
        return bud.mission_share(m.limits, m.usage(), m.reserved().tokens - own)

    def announce(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        """The attempt started on `worker` (at dispatch, or when the job before it ended)."""
        assert t.running is not None
        self.emit("task.state", m.id, t.id, t.attempt,
                  {"state": t.state, "error": None, "worker": worker.slot})
        self.emit("attempt.start", m.id, t.id, t.attempt,
                  {"worker": worker.slot, "agent": t.spec["agent"], "runner": t.runner})
        self.set_worker(worker, "busy", m.id, t.id)

    def agent_data(self, ref: str, agent: AgentSpec) -> tuple[dict[str, Any], Any]:
        """The agent as a worker receives it, and its budget; dumped once per engine."""
        cache: dict[str, tuple[dict[str, Any], Any]] = self.__dict__.setdefault("_agents", {})
        if ref not in cache:
            budget = agent.budget.model_dump() if agent.budget else None
            cache[ref] = (agent.job_dict(), budget)
        return cache[ref]

    def break_leftover_lock(self, m: MissionRun, t: TaskRun) -> None:
        """A lock in a mission we own on a task we are not running: its owner is dead."""
        task_dir = tf.task_dir(m.folder, t.id)
        owner = claims.read_owner(task_dir)
        if owner is not None and is_alive(owner):
            return
        if owner is not None:
            old = tf.read_attempt_json(
                tf.attempt_dir(m.folder, t.id, int(owner.get("attempt") or 0)), "agent.json")
            if old:
                stop_agent(old, grace=self.options.grace)
        with claims.recovery_lock(self.home):
            claims.break_stale_lock(task_dir, owner.get("nonce") if owner else None)

    # -- messages from workers ------------------------------------------------------

    def on_message(self, worker: WorkerRecord, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "ready":
            worker.ready = True
            self.set_worker(worker, "idle", None, None)
            return
        if kind == "dropped":
            self.on_dropped(worker, (str(msg.get("mission")), str(msg.get("task"))))
            return
        if kind == "waiting_for_space":  # its agent failed on a full disk (envpause)
            mission, task = worker.busy or (None, None)
            self.emit("worker.state", mission, task, None,
                      {"slot": worker.slot, "state": kind, "pid": worker.pid})
            return
        found = self.task_of(worker)
        if kind == "done" and worker.jobs:
            worker.retracting.discard(worker.jobs.popleft())
            if found is not None and found[1].running is not None and found[1].running.queued:
                self.announce(*found, worker)  # it ran though asked back: start before end
            self.next_job(worker)
        if found is None:
            return
        m, t = found
        if kind == "usage":
            self.on_usage(m, t, bud.Usage(int(msg.get("tokens") or 0),
                                          float(msg.get("cost") or 0.0)))
        elif kind == "done":
            self.note_duration(t, msg)
            self.finish_attempt(m, t, msg)

    def task_of(self, worker: WorkerRecord) -> tuple[MissionRun, TaskRun] | None:
        """The running (or queued) task of the job the worker is on."""
        return self.running_task(worker.busy) if worker.busy else None

    def running_task(self, key: tuple[str, str]) -> tuple[MissionRun, TaskRun] | None:
        m = self.missions.get(key[0])
        t = m.tasks.get(key[1]) if m else None
        if m is None or t is None or t.running is None:
            return None
        return m, t

    def on_usage(self, m: MissionRun, t: TaskRun, delta: bud.Usage) -> None:
        assert t.running is not None
        t.running.usage = t.running.usage + delta
        m.dirty = True
        task_used = t.usage + t.running.usage
        self.emit("usage", m.id, t.id, t.running.number,
                  {**delta.to_dict(), "task": task_used.to_dict(), "mission": m.usage().to_dict()})
        limits = bud.Limits.from_dict(t.spec.get("budget"))
        self.check_budget(m, f"task:{t.id}", limits, task_used, 0.0, t)
        self.check_budget(m, "mission", m.limits, m.usage(), m.wall_time(time.monotonic()), t)

    def check_budget(self, m: MissionRun, scope: str, limits: bud.Limits,
                     used: bud.Usage, wall: float, t: TaskRun | None) -> None:
        for kind in bud.warnings(limits, used, wall):
            if (scope, kind) not in m.warned:
                m.warned.add((scope, kind))
                self.emit("budget.warn", m.id, t.id if t else None, None,
                          {"scope": scope, "kind": kind, "limit": limits.limit(kind),
                           "spent": bud.spent(used, wall)[kind]})
        over = bud.exceeded(limits, used, wall)
        if over is None:
            return
        figure = bud.stop_figure(scope, over, limits.limit(over), bud.spent(used, wall)[over])
        self.emit("budget.stop", m.id, t.id if t else None, None, figure)
        if t is not None and t.running is not None:
            if t.running.stop_reason is None:
                t.running.stop_error = bud.over_text(over, bud.spent(used, wall)[over],
                                                     limits.limit(over), scope)
                t.running.budget_figure = figure
            self.stop_attempt(m, t, "budget_exceeded")
        if scope == "mission":
            self.close_mission(m, Reason.BUDGET_EXCEEDED, figure)

    # -- stopping -------------------------------------------------------------------

    def stop_attempt(self, m: MissionRun, t: TaskRun, reason: str) -> None:
        run = t.running
        if run is None or run.stop_reason is not None:
            return
        run.stop_reason = reason
        worker = self.pool.workers.get(run.slot)
        if worker is not None and worker.io:
            self.stop_io_attempt(m, t, worker)
            return
        if worker is not None and len(worker.jobs) > 1 and (m.id, t.id) in worker.jobs:
            self.stop_worker_jobs(worker)
            return
        now = time.monotonic()
        run.agent = run.agent or tf.read_attempt_json(run.folder, "agent.json")
        if run.agent and is_alive(run.agent):
            pid = int(run.agent["pid"])
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
            run.agent = tf.read_attempt_json(run.folder, "agent.json")
        if run.agent and is_alive(run.agent):
            pid = int(run.agent["pid"])
            run.procs.update({p.pid: p for p in snapshot_tree(pid)})
            signal_group(pid, signal.SIGKILL)
        for proc in run.procs.values():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        worker = self.pool.workers.get(run.slot)
        if worker is not None and (m.id, t.id) in worker.jobs:
            self.pool.kill(worker)

    def check_running(self, now: float) -> None:
        for m in list(self.missions.values()):
            for t in m.running_tasks():
                run = t.running
                if run is None:
                    continue
                if run.stop_reason is None and run.deadline is not None and now >= run.deadline:
                    run.stop_error = _deadline_text(run)
                    if run.deadline_reason == "budget_exceeded":  # the task's wall time
                        seconds = run.deadline - run.started_mono
                        run.budget_figure = bud.stop_figure(f"task:{t.id}", "wall_time",
                                                            seconds, seconds)
                    self.stop_attempt(m, t, run.deadline_reason)
                if run.kill_at is not None and now >= run.kill_at:
                    self.kill_attempt(m, t)
            if m.limits.max_wall_time is not None and not m.closing:
                self.check_budget(m, "mission", m.limits, m.usage(), m.wall_time(now), None)

    # -- finishing ------------------------------------------------------------------

    def finish_attempt(self, m: MissionRun, t: TaskRun, msg: dict[str, Any] | None) -> None:
        """`msg` is the worker's `done` message, or None when the worker died."""
        assert t.running is not None
        if msg is not None and msg.get("claim_failed"):
            self.claim_failed(m, t, str(msg["claim_failed"]))
            return
        usage = bud.Usage.from_dict(msg.get("usage")) if msg else t.running.usage
        run = m.end(t, usage)
        died = msg is None
        if died:  # the agent may have finished before its worker died: never run it again
            msg = left_behind(m, t, run)
        ok = bool(msg and msg.get("ok"))
        reason = attempt_reason(run, msg, ok)
        if died or run.stop_reason is not None:
            self.kill_orphans(t, run, worker_died=died)
        if died:  # keeping the model and token split the worker wrote as it went
            known = tf.read_attempt_json(run.folder, "usage.json") or {}
            tf.write_attempt_json(run.folder, "usage.json", {**known, **usage.to_dict()})
        if reason != "succeeded" and os.path.exists(f"{run.path}/workspace.json"):  # noqa: PTH110
            save_worktree(run.path, reason)
        if msg is None or msg.get("logs", True):
            self.tail_logs(m, t, run)
        error = (msg or {}).get("error") or ("the worker died" if msg is None else None)
        if reason == "interrupted" and msg and msg.get("environment"):
            error = f"interrupted: {msg['environment']} (not counted against its retries)"
        if run.stop_reason is not None and reason == run.stop_reason:
            # We stopped it: say why, not how it died (SIGTERM, a killed worker).
            error = run.stop_error or bud.stop_text(reason)
        finished = float((msg or {}).get("finished") or time.time())
        started = float((msg or {}).get("started") or run.started_wall)
        written = died and tf.read_attempt_json(run.folder, "exit.json") is not None
        # A dead worker wrote no exit.json (a `msg` rebuilt from its files says so too).
        if (died or reason != worker_reason(msg)) and not written:
            tf.write_attempt_json(run.folder, "exit.json", {
                "code": (msg or {}).get("exit_code"), "signal": (msg or {}).get("signal"),
                "reason": reason, "started": iso_ts(started), "finished": iso_ts(finished),
                "duration": round(finished - started, 6), "error": error,
                "worker": run.slot,  # its lock went to a tombstone, not to claim/
            })
        if msg is not None and msg.get("accepted") and reason != "succeeded":
            (tf.task_dir(m.folder, t.id) / "result.json").unlink(missing_ok=True)
        self.emit("attempt.end", m.id, t.id, run.number,
                  {"reason": reason, "error": error, "duration": round(finished - started, 6),
                   "usage": usage.to_dict()})
        accepted = bool(msg and msg.get("accepted"))
        self.settle(m, t, reason, error, (msg or {}).get("result"), None if accepted else run,
                    figure=run.budget_figure)
        if died:  # record first (exit.json, state.json), release second
            killpoints.reached("finish.recorded")
            self.break_leftover_lock(m, t)

    def claim_failed(self, m: MissionRun, t: TaskRun, why: str) -> None:
        """The worker could not claim: a leftover attempt folder or lock from a past life."""
        run = m.end(t, bud.Usage())
        if why == "attempt_exists":
            t.attempt = max([t.attempt, *tf.attempt_numbers(m.folder, t.id)])
        else:  # the worker made this attempt's folder: it gets its record, then the lock goes
            now = iso_ts(time.time())
            tf.write_attempt_json(run.folder, "exit.json", {
                "code": None, "signal": None, "reason": "interrupted", "started": now,
                "finished": now, "duration": 0.0, "error": f"could not claim the task: {why}"})
            self.break_leftover_lock(m, t)
        # Not a crash (no process of the attempt died), but bounded all the same.
        t.claim_failures += 1
        if t.claim_failures > CLAIM_FAILURE_CAP:
            self.fail_task(m, t, f"could not claim the task: {why}")
        else:
            self.requeue(m, t, 0.0)

    def kill_orphans(self, t: TaskRun, run: Running, worker_died: bool) -> None:
        """No agent may survive its attempt (the worker died or we stopped it)."""
        agent = run.agent or tf.read_attempt_json(run.folder, "agent.json")
        if agent and is_alive(agent):
            stop_agent(agent, grace=0.0)
        for proc in run.procs.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()
        if worker_died and t.runner in ("command", "claude-code"):
            kill_attempt_processes(run.path)  # never recorded, or escaped its group

    def settle(self, m: MissionRun, t: TaskRun, reason: str, error: str | None,
               result: Any, run: Running | None,
               figure: dict[str, Any] | None = None) -> None:
        """Decide the task's next state after an attempt ended for `reason`; `figure`: a
        budget stop's limit and spend (the attempt's worker may have accepted its result
        before the stop, so `run` is not always given)."""
        if reason == "succeeded":
            self.accept(m, t, result if isinstance(result, dict) else {}, run)
        elif reason == "interrupted":
            self.requeue(m, t, 0.0)
        elif reason == "crashed":
            t.crashes += 1
            cap = self.crash_cap(m, t)
            if t.crashes > cap:
                self.fail_task(m, t, crash_cap_error(cap, t.crashes, crash_history(m, t)))
            else:
                self.requeue(m, t, 0.0)
        elif reason == "cancelled":
            t.error = "cancelled"
            m.set_state(t, sch.CANCELLED)
            self.save_task(m, t)
        elif reason == "budget_exceeded":
            self.fail_task(m, t, error or "budget exceeded", Reason.BUDGET_EXCEEDED, figure)
        else:
            t.failures += 1
            retries = t.retries
            if t.failures <= retries:
                delay = sch.backoff(t.failures, self.options.retry_base)
                t.error = error
                self.requeue(m, t, delay)
            else:
                self.fail_task(m, t, error or reason)

    def crash_cap(self, m: MissionRun, t: TaskRun) -> int:
        """The task's `crash_cap`, else its mission's, else the engine's (3)."""
        for cap in (t.spec.get("crash_cap"), m.spec.crash_cap):
            if cap is not None:
                return int(cap)
        return self.options.crash_cap

    def accept(self, m: MissionRun, t: TaskRun, result: dict[str, Any],
               run: Running | None = None) -> None:
        """Mark the task succeeded; `run` given = the result still has to be linked."""
        if t.initializer and result.get("add_tasks"):
            try:
                added = m.add_tasks(t.id, result["add_tasks"])
            except ValueError as exc:
                self.fail_task(m, t, str(exc))
                return
            for task_id in added:
                self.emit("task.state", m.id, task_id, 0, {"state": sch.PENDING, "added_by": t.id})
        if run is not None:
            tf.accept_result(m.folder, t.id, result, run.folder)
        t.error = None
        m.set_state(t, sch.SUCCEEDED)
        self.save_task(m, t, write=run is not None)  # else result.json already says it

    def requeue(self, m: MissionRun, t: TaskRun, delay: float) -> None:
        t.not_before = time.monotonic() + delay
        m.set_state(t, sch.PENDING)
        self.save_task(m, t, extra={"retry_in": delay})

    def fail_task(self, m: MissionRun, t: TaskRun, error: str,
                  reason: Reason = Reason.TASK_FAILED,
                  figure: dict[str, Any] | None = None) -> None:
        """`figure`: a budget stop's limit and spend, kept in the closing record."""
        t.error = error
        m.set_state(t, sch.FAILED)
        self.save_task(m, t)
        if m.fail_fast or reason is Reason.BUDGET_EXCEEDED:
            self.close_mission(m, reason, {"task": t.id, "error": error, **(figure or {})})

    def save_task(self, m: MissionRun, t: TaskRun, *, worker: int | None = None,
                  extra: dict[str, Any] | None = None, write: bool = True) -> None:
        if write:
            if t.attempt == 0 or not os.path.isdir(f"{m.folder}/tasks/{t.id}"):  # noqa: PTH112
                tf.write_spec(m.folder, t.spec)  # never began: no folder yet
            tf.write_state(m.folder, t.id, t.state, t.attempt, error=t.error, worker=worker,
                           failures=t.failures, crashes=t.crashes)
        m.dirty = True
        self.emit("task.state", m.id, t.id, t.attempt,
                  {"state": t.state, "error": t.error, "worker": worker, **(extra or {})})


def save_worktree(folder: str, reason: str) -> None:
    """The attempt's worker could not commit its worktree: do it here (never lose work)."""
    from houston.workspace import salvage_attempt

    try:
        salvage_attempt(folder, reason)
    except (HoustonError, OSError) as exc:  # `houston gc` and the next attempt try again
        print(f"houston: could not save the worktree of {folder}: {exc}", file=sys.stderr)


def _deadline_text(run: Running) -> str:
    """`timeout (30s)`, or `budget exceeded (wall time 10s of 10s)` for a task budget."""
    seconds = (run.deadline or run.started_mono) - run.started_mono
    if run.deadline_reason == "budget_exceeded":
        return bud.over_text("wall_time", seconds, seconds)
    return bud.stop_text(run.deadline_reason, seconds)
