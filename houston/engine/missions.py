"""Claiming and closing missions.

A mission is claimed by renaming it COMMITTED -> EXECUTING (two engines never claim the
same mission), loaded from its folder (houston.engine.mission_run), and ended by renaming
it into COMPLETED with its outcome, or back into COMMITTED when this engine stops (or
cannot write) before it is done.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from houston.clock import utcnow
from houston.core import budget, dag
from houston.core.errors import ConflictError, HoustonError, is_environment_fault
from houston.core.lifecycle import OUTCOME_BY_REASON, MissionState, Reason
from houston.core.taskstate import TaskState
from houston.engine.active import ActiveMissions
from houston.engine.control import Control
from houston.engine.emitter import Emitter
from houston.engine.gating import GateKeeper
from houston.engine.iodispatch import WorkerChoice
from houston.engine.mission_run import MissionRun
from houston.engine.options import EngineOptions
from houston.engine.recording import TaskRecorder
from houston.engine.stopping import Stopper
from houston.home.cancels import cancel_requested
from houston.home.engine_record import remove_engine_record, write_engine_record
from houston.home.layout import CANCEL_REQUEST
from houston.home.records import ProcessRecord
from houston.home.status import MissionStatus
from houston.home.store import MissionRef, MissionStore, complete_folder
from houston.home.watch import Watcher


class MissionKeeper:
    def __init__(
        self,
        store: MissionStore,
        options: EngineOptions,
        identity: ProcessRecord,
        active: ActiveMissions,
        control: Control,
        watcher: Watcher,
        emitter: Emitter,
        parts: tuple[WorkerChoice, GateKeeper, Stopper, TaskRecorder],
    ) -> None:
        self.store = store
        self.options = options
        self.identity = identity
        self.active = active
        self.control = control
        self.watcher = watcher
        self.emitter = emitter
        self.choice, self.gates, self.stopper, self.recorder = parts

    # -- claiming -------------------------------------------------------------------

    def claim_committed(self) -> None:
        """Claim the oldest committed missions this engine has room for: one per task
        worker, so that other engines on the home share the work and one engine's death
        sends only what it was running through recovery."""
        # A held mission with nothing running nor ready (waiting on a gate) takes no room.
        room = self.options.workers - sum(
            1
            for m in self.active.runs.values()
            if m.closing is None and (m.running_count() or m.heap)
        )
        if room <= 0:
            return
        ids = sorted(self.store.ids_in(MissionState.COMMITTED))
        if self.options.missions is not None:
            ids = [i for i in ids if i in self.options.missions and i not in self.active.finished]
        for mission_id in ids:
            if room <= 0:
                return
            try:
                ref = self.store.move(
                    mission_id,
                    MissionState.COMMITTED,
                    MissionState.EXECUTING,
                    Reason.CLAIMED,
                    detail={"engine": os.getpid()},
                )
            except (ConflictError, FileNotFoundError):
                continue
            self.adopt(ref)
            room -= 1

    def adopt(self, ref: MissionRef) -> None:
        write_engine_record(ref.path, self.identity, utcnow())
        self.emitter.emit(
            "mission.state", ref.id, None, None, {"state": MissionState.EXECUTING.value}
        )
        complete_folder(ref.path)  # a mission dropped in by hand may hold only mission.yaml
        status = self.store.summary(ref)
        m = self._load(ref, status)
        if m is None:
            return
        problem = dag.unknown_needs(m.nodes()) or dag.find_cycle(dag.effective_needs(m.nodes()))
        if problem:
            self.reject_invalid(ref, f"bad needs: {problem}")
            return
        if status.get("name") in (None, ref.id) and m.spec.name != status.get("name"):
            self.store.update_status(ref, name=m.spec.name)
        self.active.runs[ref.id] = m
        self.watcher.watch(ref.path)
        self.choice.warm_io(m)

    def _load(self, ref: MissionRef, status: MissionStatus) -> MissionRun | None:
        """The mission as its folder says, or None after rejecting it as invalid."""
        try:
            # The wall clock of a mission counts only its time in EXECUTING: it goes on
            # from what earlier runs counted, not from when it first started.
            return MissionRun.load(ref, time.time() - budget.wall_time_so_far(status))
        except FileNotFoundError:
            self.reject_invalid(ref, "no mission.yaml in the mission folder")
        except OSError as exc:
            if is_environment_fault(exc):  # not the mission's fault: hand it back, pause
                self.move_out(ref, Reason.RECOVERED, {"error": str(exc)})
                raise
            self.reject_invalid(ref, str(exc))
        except (HoustonError, ValueError) as exc:
            self.reject_invalid(ref, str(exc))
        return None

    def reject_invalid(self, ref: MissionRef, error: str) -> None:
        """A mission that does not validate ends failed (`invalid`), its status saying why."""
        with contextlib.suppress(HoustonError):
            self.store.update_status(ref, error=error)
        self.move_out(ref, Reason.INVALID, {"error": error})

    def check_cancels(self) -> None:
        for m in list(self.active.runs.values()):
            if not m.cancel_seen and cancel_requested(m.folder):
                m.cancel_seen = True
                self.stopper.close_mission(m, Reason.CANCELLED, {"by": CANCEL_REQUEST})
            elif m.count[TaskState.WAITING] and m.closing is None:
                self.gates.check_gates(m)

    # -- closing --------------------------------------------------------------------

    def maybe_finish(self, m: MissionRun) -> None:
        if m.running_count():
            return
        if m.closing is None:
            if m.bad:
                self.recorder.skip_doomed(m)
            if not m.all_final():
                return
            ok = m.count[TaskState.SUCCEEDED] == len(m.tasks)
            m.closing = (Reason.ALL_TASKS_DONE if ok else Reason.TASK_FAILED, {})
        reason, detail = m.closing
        if reason is not Reason.RECOVERED:
            for t in m.tasks.values():
                if t.state in (TaskState.PENDING, TaskState.RUNNING, TaskState.WAITING):
                    m.set_state(t, TaskState.CANCELLED)
                    self.recorder.save_task(m, t)
        self.flush_status(m)
        del self.active.runs[m.id]
        self.watcher.unwatch(m.folder)
        self.move_out(m.ref, reason, detail)

    def move_out(self, ref: MissionRef, reason: Reason, detail: dict[str, Any]) -> None:
        target = MissionState.COMMITTED if reason is Reason.RECOVERED else MissionState.COMPLETED
        remove_engine_record(ref.path)
        try:
            self.store.move(ref.id, MissionState.EXECUTING, target, reason, detail=detail or None)
        except ConflictError:
            return
        outcome = None if target is MissionState.COMMITTED else OUTCOME_BY_REASON[reason]
        self.emitter.emit(
            "mission.state",
            ref.id,
            None,
            None,
            {
                "state": target.value,
                "reason": reason.value,
                "outcome": outcome.value if outcome else None,
                **detail,
            },
        )
        if outcome is not None:
            self.active.finished[ref.id] = (outcome, reason)
        self.control.rescan = True  # room for another committed mission

    def flush_status(self, m: MissionRun) -> None:
        if not m.dirty:
            return
        m.dirty = False
        usage = m.usage()
        wall = round(m.wall_time(time.monotonic()), 3)
        self.store.update_status(
            m.ref,
            counts=m.counts(),
            usage={"tokens": usage.tokens, "cost": usage.cost, "wall_time": wall},
        )

    def flush_all(self) -> None:
        for m in self.active.runs.values():
            # A wall-time budget survives a crash only if the time run is on disk.
            m.dirty = m.dirty or m.limits.max_wall_time is not None
            self.flush_status(m)
