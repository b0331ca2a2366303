"""Network-bound attempts in the engine: llm jobs go to the network worker, not a CPU slot.

A task whose agent runs with the `llm` runner (and is not the initializer, which keeps
the "+1" slot) is sent to the network worker (houston.engine.io_worker) while it has room
(`--llm-concurrency`); the mission's `max_concurrency` and budget are checked before, as
for any task. Stopping one of its attempts asks the worker to drop it
(houston.engine.stopping); only if the worker does not answer within the grace period is
it killed, and then, like any dead worker, each attempt it ran is a crash and is requeued.
"""

from __future__ import annotations

import os
from typing import Any

from houston.agents.catalog import AgentCatalog, AgentSpec
from houston.core.errors import HoustonError
from houston.engine import localmodel
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.pipelining import Pipelining
from houston.engine.pool import WorkerRecord
from houston.engine.queues import JobQueues

LOOKAHEAD = 64  # tasks looked past, per mission and tick, for one the free kind can take


class WorkerChoice:
    """Which worker takes a ready task: the network worker, a CPU slot, or a busy quick
    worker's pipe (pipelining)."""

    def __init__(
        self,
        queues: JobQueues,
        catalog: AgentCatalog,
        local_model: localmodel.LocalModel,
        pipelining: Pipelining,
    ) -> None:
        self.queues = queues
        self.catalog = catalog
        self.local_model = local_model
        self.pipelining = pipelining
        self._io_bound: dict[str, tuple[bool, bool]] = {}  # agent -> (llm, worktree)

    def io_bound(self, t: TaskRun) -> bool:
        """True for a task to run on the network worker (its agent's runner is llm)."""
        # An initializer keeps the "+1" slot; a git worktree attempt changes the process's
        # working folder, which threads share: both run in a CPU worker.
        if t.initializer or t.spec.workspace == "worktree":
            return False
        ref = t.spec.agent
        if ref not in self._io_bound:
            try:
                agent, _ = self.catalog.find(ref)
            except HoustonError:
                return False  # start_attempt fails it with the catalog's message
            self._io_bound[ref] = (
                agent.runner_name == "llm",
                agent.job_dict().get("workspace") == "worktree",
            )
        llm, worktree = self._io_bound[ref]
        return llm and not (worktree and not t.spec.workspace)

    def llm_endpoint(
        self, agent: AgentSpec, agent_dict: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The agent and job env an llm attempt is sent with: base URL `local` becomes the
        embedded model's server, started on first need (raises RunnerError if missing)."""
        if agent.runner_name != "llm" or not localmodel.wants_local(agent_dict, os.environ):
            return agent_dict, {}
        url = self.local_model.ensure()
        return localmodel.pointed(agent_dict, url, self.local_model.label)

    def warm_io(self, m: MissionRun) -> None:
        """Start the network worker as soon as a mission with llm tasks is claimed, beside
        the loading of the rest, rather than when its first llm task is ready."""
        if any(self.io_bound(t) for t in m.tasks.values() if t.state == "pending"):
            self.queues.io_worker()

    def worker_for(self, m: MissionRun, t: TaskRun) -> WorkerRecord | None:
        if self.io_bound(t):
            return self.queues.io_worker()
        worker = self.queues.idle(initializer=t.initializer)
        if worker is None and not t.initializer:
            worker = self.pipelining.prefetch_worker(m)
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
            return self.queues.idle(initializer=False) is not None
        return self.queues.io_room()
