"""Human gates inside a mission, as the engine sees them (the files: houston.home.gates).

A ready task with `gate: approve` is not dispatched: it becomes `waiting` (no slot is
held, nothing else waits for it but its dependents) until its gate file says `approved`
(it goes back to pending and runs) or `rejected` (it fails with error `rejected`). The
engine looks at waiting gates whenever the mission folder changes and at every reconcile,
so a decision written by another process is seen without a poll loop.
"""

from __future__ import annotations

from houston.core.lifecycle import Reason
from houston.core.taskstate import TaskState
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.recording import TaskRecorder
from houston.engine.stopping import Stopper
from houston.home import gates


class GateKeeper:
    def __init__(self, recorder: TaskRecorder, stopper: Stopper) -> None:
        self.recorder = recorder
        self.stopper = stopper

    def hold_at_gate(self, m: MissionRun, t: TaskRun) -> None:
        """A gated task is ready: it waits for a human unless its gate was decided."""
        decided = gates.open_gate(m.folder, t.id)
        if decided == gates.WAITING:
            m.set_state(t, TaskState.WAITING)
            self.recorder.save_task(m, t, extra={"gate": gates.WAITING})
        else:
            self.pass_gate(m, t, decided)

    def check_gates(self, m: MissionRun) -> None:
        """Waiting tasks whose gate a human decided (after a wake-up or a reconcile)."""
        for t in [t for t in m.tasks.values() if t.state == TaskState.WAITING]:
            decided = gates.gate_state(m.folder, t.id)
            if decided in gates.DECISIONS:
                self.pass_gate(m, t, decided)

    def pass_gate(self, m: MissionRun, t: TaskRun, decided: str | None) -> None:
        if decided == gates.APPROVED:
            t.gate_passed = True
            m.set_state(t, TaskState.PENDING)
            m.enqueue(t)  # set_state skips it when it was already pending (a restart)
            self.recorder.save_task(m, t, extra={"gate": gates.APPROVED})
            return
        # Rejected (or a gate file no one can read: never run a task nobody approved).
        t.error = "rejected" if decided == gates.REJECTED else f"gate is {decided!r}"
        m.set_state(t, TaskState.FAILED)
        self.recorder.save_task(m, t, extra={"gate": decided, "reason": "rejected"})
        if m.fail_fast:
            self.stopper.close_mission(m, Reason.TASK_FAILED, {"task": t.id, "error": t.error})
