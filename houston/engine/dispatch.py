"""Dispatch: start the ready tasks of each mission while workers, concurrency and budget
allow. Each mission keeps its ready tasks in a heap (initializers first, then by id),
filled as tasks become ready (houston.engine.mission_run): a tick costs what changed,
not the size of the mission.
"""

from __future__ import annotations

import heapq

from houston.core import budget
from houston.core.taskstate import TaskState
from houston.engine.active import ActiveMissions
from houston.engine.attempts import Attempts
from houston.engine.gating import GateKeeper
from houston.engine.iodispatch import WorkerChoice
from houston.engine.mission_run import MissionRun
from houston.engine.recording import TaskRecorder
from houston.engine.spending import BudgetKeeper


class Dispatcher:
    def __init__(
        self,
        active: ActiveMissions,
        choice: WorkerChoice,
        budgets: BudgetKeeper,
        gates: GateKeeper,
        recorder: TaskRecorder,
        attempts: Attempts,
    ) -> None:
        self.active = active
        self.choice = choice
        self.budgets = budgets
        self.gates = gates
        self.recorder = recorder
        self.attempts = attempts

    def dispatch(self, now: float) -> None:
        for m in list(self.active.runs.values()):
            if m.closing is not None:
                continue
            if m.bad:
                self.recorder.skip_doomed(m)
            self.dispatch_mission(m, now)

    def dispatch_mission(self, m: MissionRun, now: float) -> None:
        """Start ready tasks of one mission while slots, concurrency and budget allow."""
        later: list[str] = []
        while m.heap and m.closing is None:
            task_id = m.heap[0][1]
            t = m.tasks[task_id]
            if t.state != TaskState.PENDING or m.blocked.get(task_id, 0) != 0:
                unqueue(m)
                continue
            if t.not_before > now:
                later.append(unqueue(m))
                continue
            if t.gated:
                unqueue(m)
                self.gates.hold_at_gate(m, t)
                continue
            if not budget.concurrency_ok(m.limits, m.running_count()):
                break
            if m.limits.spends and not self.budgets.allows(m, t):
                break
            worker = self.choice.worker_for(m, t)
            if worker is None:
                # The +1 slot (or one kind of worker) is busy; others may take later tasks.
                if self.choice.look_past(t, len(later)):
                    later.append(unqueue(m))
                    continue
                break
            unqueue(m)
            self.attempts.start_attempt(m, t, worker)
        for task_id in later:
            m.enqueue(m.tasks[task_id])
        waits = [m.tasks[i].not_before for i in later if m.tasks[i].not_before > now]
        m.next_requeue = min(waits) if waits else None


def unqueue(m: MissionRun) -> str:
    task_id = heapq.heappop(m.heap)[1]
    m.queued.discard(task_id)
    return task_id
