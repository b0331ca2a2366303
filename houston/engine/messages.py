"""What the engine does with each message of a worker (houston.engine.protocol).

A task worker runs its jobs one after the other: a `done` is about the job at the front
of its queue, and the next queued job (if any) starts at once (houston.engine.pipelining).
The network worker runs many: its messages name their attempt, and news of an attempt
stopped and dropped earlier is stale.
"""

from __future__ import annotations

from typing import Any

from houston.core import budget
from houston.engine import protocol
from houston.engine.active import ActiveMissions
from houston.engine.attempts import Attempts
from houston.engine.emitter import Emitter
from houston.engine.pipelining import Pipelining
from houston.engine.pool import WorkerRecord
from houston.engine.protocol import Done, Dropped, Ready, UsageReport, WaitingForSpace
from houston.engine.queues import JobQueues
from houston.engine.spending import BudgetKeeper


class MessageRouter:
    def __init__(
        self,
        queues: JobQueues,
        active: ActiveMissions,
        emitter: Emitter,
        attempts: Attempts,
        pipelining: Pipelining,
        budgets: BudgetKeeper,
    ) -> None:
        self.queues = queues
        self.active = active
        self.emitter = emitter
        self.attempts = attempts
        self.pipelining = pipelining
        self.budgets = budgets
        self.settled: set[str] = set()  # missions an attempt of which ended since asked

    def take_settled(self) -> set[str]:
        settled, self.settled = self.settled, set()
        return settled

    def on_raw(self, worker: WorkerRecord, raw: dict[str, Any]) -> None:
        message = protocol.decode(raw)
        if message is None:
            return
        if isinstance(message, Ready):
            worker.ready = True
            self.emitter.worker_state(worker, "idle", None, None)
        elif worker.io:
            self.on_io_message(worker, message)
        else:
            self.on_message(worker, message)

    def on_message(self, worker: WorkerRecord, message: protocol.WorkerMessage) -> None:
        if isinstance(message, Dropped):
            self.pipelining.on_dropped(worker, message.key)
            return
        if isinstance(message, WaitingForSpace):  # its agent failed on a full disk
            mission, task = self.queues.front(worker) or (None, None)
            self.emitter.emit(
                "worker.state",
                mission,
                task,
                None,
                {"slot": worker.slot, "state": "waiting_for_space", "pid": worker.pid},
            )
            return
        found = self.active.task_of(worker)
        if isinstance(message, Done) and self.queues.busy(worker):
            self.queues.pop_front(worker)
            if found is not None and found[1].running is not None and found[1].running.queued:
                # It ran though asked back: say it started before it ends.
                self.emitter.attempt_started(*found, worker)
            self.pipelining.next_job(worker)
        if found is None:
            return
        m, t = found
        if isinstance(message, UsageReport):
            self.budgets.on_usage(m, t, budget.Usage(message.tokens, message.cost))
        elif isinstance(message, Done):
            self.pipelining.note_duration(t.spec.agent, message)
            self.attempts.finish_attempt(m, t, message)
            self.settled.add(m.id)

    def on_io_message(self, worker: WorkerRecord, message: protocol.WorkerMessage) -> None:
        if not isinstance(message, UsageReport | Done) or message.key is None:
            return
        found = self.active.running_task(message.key)
        current = (
            found is not None
            and found[1].running is not None
            and found[1].running.slot == worker.slot
            and found[1].running.number == message.attempt
        )
        if isinstance(message, Done) and current:
            self.queues.remove(worker, message.key)
            if not self.queues.busy(worker):
                self.emitter.worker_state(worker, "idle", None, None)
        if not current or found is None:
            return  # an attempt stopped and dropped earlier: its news is stale
        m, t = found
        if isinstance(message, UsageReport):
            self.budgets.on_usage(m, t, budget.Usage(message.tokens, message.cost))
        else:
            self.attempts.finish_attempt(m, t, message)
            self.settled.add(m.id)
