"""Network-bound attempts in the engine: llm jobs go to the network worker, not a CPU slot.

A mixin of `Engine`. A task whose agent runs with the `llm` runner (and is not the
initializer, which keeps the "+1" slot) is sent to the network worker
(houston.engine.io_worker) while it has room (`--llm-concurrency`); the mission's
`max_concurrency` and budget are checked before, as for any task. Messages from that worker
name their attempt. Stopping one of its attempts (timeout, cancel, budget) asks the worker
to drop it; only if the worker does not answer within the grace period is it killed, and
then, like any dead worker, each attempt it ran is a crash and is requeued.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

from houston.engine import budget as bud
from houston.engine import localmodel as lm
from houston.engine import taskfiles as tf
from houston.engine.liveness import is_alive, signal_group, snapshot_tree
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.pool import WorkerRecord
from houston.errors import HoustonError

if TYPE_CHECKING:
    from houston.agents import AgentCatalog, AgentSpec
    from houston.engine.engine import EngineOptions
    from houston.engine.pool import Pool

IO_STOP_GRACE = 5.0  # seconds the network worker has to answer a cancel
LOOKAHEAD = 64  # tasks looked past, per mission and tick, for one the free kind can take


class IoDispatch:
    if TYPE_CHECKING:  # provided by Engine
        pool: Pool
        catalog: AgentCatalog
        options: EngineOptions
        missions: dict[str, MissionRun]
        local_model: lm.LocalModel

        def set_worker(self, worker: WorkerRecord, state: str, mission: str | None,
                       task: str | None) -> None: ...

        def running_task(self, key: tuple[str, str]) -> tuple[MissionRun, TaskRun] | None: ...

        def on_usage(self, m: MissionRun, t: TaskRun, delta: bud.Usage) -> None: ...

        def finish_attempt(self, m: MissionRun, t: TaskRun,
                           msg: dict[str, Any] | None) -> None: ...

        def prefetch_worker(self, m: MissionRun) -> WorkerRecord | None: ...

    def io_bound(self, t: TaskRun) -> bool:
        """True for a task to run on the network worker (its agent's runner is llm)."""
        # An initializer keeps the "+1" slot; a git worktree attempt changes the process's
        # working folder, which threads share: both run in a CPU worker.
        if t.initializer or t.spec.get("workspace") == "worktree":
            return False
        cache: dict[str, tuple[bool, bool]] = self.__dict__.setdefault("_io_bound", {})
        ref = str(t.spec.get("agent"))
        if ref not in cache:
            try:
                agent, _ = self.catalog.find(ref)
            except HoustonError:
                return False  # start_attempt fails it with the catalog's message
            cache[ref] = (agent.runner_name == "llm",
                          agent.job_dict().get("workspace") == "worktree")
        llm, worktree = cache[ref]
        return llm and not (worktree and not t.spec.get("workspace"))

    def llm_endpoint(self, agent: AgentSpec,
                     agent_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The agent and job env an llm attempt is sent with: base URL `local` becomes the
        embedded model's server, started on first need (raises RunnerError if missing)."""
        if agent.runner_name != "llm" or not lm.wants_local(agent_dict, os.environ):
            return agent_dict, {}
        url = self.local_model.ensure()
        return lm.pointed(agent_dict, url, self.local_model.label)

    def warm_io(self, m: MissionRun) -> None:
        """Start the network worker as soon as a mission with llm tasks is claimed, beside
        the loading of the rest, rather than when its first llm task is ready."""
        if any(self.io_bound(t) for t in m.tasks.values() if t.state == "pending"):
            self.pool.io_worker()

    def worker_for(self, m: MissionRun, t: TaskRun) -> WorkerRecord | None:
        if self.io_bound(t):
            return self.pool.io_worker()
        worker = self.pool.idle(initializer=t.initializer)
        if worker is None and not t.initializer:
            worker = self.prefetch_worker(m)
        return worker

    def look_past(self, t: TaskRun, looked: int) -> bool:
        """No worker for `t`: may the dispatcher look at the tasks behind it? Yes for an
        initializer (only its slot is busy), and, a bounded number of times, when the other
        kind of worker (CPU slots or the network worker) has room."""
        if t.initializer:
            return True
        if looked >= LOOKAHEAD:
            return False
        if self.io_bound(t):
            return self.pool.idle(initializer=False) is not None
        return self.pool.io_room()

    def on_io_message(self, worker: WorkerRecord, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "ready":
            worker.ready = True
            self.set_worker(worker, "idle", None, None)
            return
        raw = msg.get("key")
        key = (str(raw[0]), str(raw[1])) if isinstance(raw, list) and len(raw) == 2 else None
        if key is None:
            return
        found = self.running_task(key)
        current = (found is not None and found[1].running is not None
                   and found[1].running.slot == worker.slot
                   and found[1].running.number == msg.get("attempt"))
        if kind == "done" and current:
            worker.jobs.remove(key)
            if not worker.jobs:
                self.set_worker(worker, "idle", None, None)
        if not current or found is None:
            return  # an attempt stopped and dropped earlier: its news is stale
        m, t = found
        if kind == "usage":
            self.on_usage(m, t, bud.Usage(int(msg.get("tokens") or 0),
                                          float(msg.get("cost") or 0.0)))
        elif kind == "done":
            self.finish_attempt(m, t, msg)

    def stop_io_attempt(self, m: MissionRun, t: TaskRun, worker: WorkerRecord) -> None:
        """Stop one attempt of the network worker, leaving its other attempts running."""
        run = t.running
        assert run is not None
        run.agent = run.agent or tf.read_attempt_json(run.folder, "agent.json")
        if run.agent and is_alive(run.agent):  # a tool's process (Bash) it registered
            pid = int(run.agent["pid"])
            run.procs.update({p.pid: p for p in snapshot_tree(pid)})
            signal_group(pid, signal.SIGTERM)
        self.pool.cancel(worker, (m.id, t.id), run.number)
        # Killing this worker would crash every attempt in it: give a loaded machine time
        # to answer the cancel (its reading thread does at once) before that last resort.
        run.kill_at = time.monotonic() + max(self.options.grace, IO_STOP_GRACE)
