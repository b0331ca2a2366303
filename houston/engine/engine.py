"""The engine loop: claim missions, dispatch ready tasks to warm workers, finish missions.

One thread drives everything. It sleeps in `select` on the workers' pipes and a wake-up
pipe (written by the filesystem watcher and by signal handlers) with a timeout set by the
next timer (retry backoff, deadlines, samples, reconcile), so nothing is polled in a tight
loop. A dead worker shows up at once as EOF on its pipe; its task is requeued as a new
attempt. Missions are claimed by renaming them COMMITTED -> EXECUTING (two engines never
claim the same mission) and ended by renaming them into COMPLETED.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from houston import fsio
from houston.agents import AgentCatalog
from houston.clock import iso, utcnow
from houston.engine import budget as bud
from houston.engine import scheduler as sch
from houston.engine.attempts import AttemptOps
from houston.engine.envpause import EnginePause, Pausing
from houston.engine.executors import LOCAL, Executor
from houston.engine.follow import Following
from houston.engine.gating import Gating
from houston.engine.iodispatch import IoDispatch
from houston.engine.liveness import kill_marked_processes, my_identity
from houston.engine.localmodel import LocalModel
from houston.engine.mission_run import MissionRun, TaskRun
from houston.engine.pipelining import Pipelining
from houston.engine.pool import Pool, WorkerRecord
from houston.engine.recovery import sweep
from houston.engine.sampling import Sampling
from houston.engine.watch import Watcher
from houston.errors import ConflictError, HoustonError, is_environment_fault
from houston.events import EventLog, Pending
from houston.home import Home
from houston.lifecycle import MissionState, Outcome, Reason
from houston.store import MissionRef, MissionStore, complete_folder

Observer = Callable[[str, str | None, str | None, int | None, dict[str, Any]], None]
S = MissionState


@dataclass
class EngineOptions:
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    missions: set[str] | None = None  # claim only these (`houston run`); None = all
    until_idle: bool = False  # return when nothing is left to claim or run
    retry_base: float = 0.5
    crash_cap: int = 3
    grace: float = 2.0
    reconcile_every: float = 2.0
    sweep_every: float = 5.0
    sample_every: float = 1.0
    on_stop: str = "requeue"  # what a stop request does to running missions: requeue|cancel
    retract_after: float = 0.2  # a job queued behind a running one waits this long at most
    executor: Executor = LOCAL  # where attempts execute (houston.engine.executors)
    llm_concurrency: int = 32  # llm attempts at once in the network worker (no CPU slot)


class Engine(AttemptOps, Gating, IoDispatch, Pipelining, Sampling, Following, Pausing):
    def __init__(self, home: Home, options: EngineOptions | None = None,
                 observer: Observer | None = None) -> None:
        self.home = home
        self.options = options or EngineOptions()
        self.observer = observer
        self.store = MissionStore(home)
        self.events = EventLog(home.events)
        self._pending: list[Pending] = []
        self.catalog = AgentCatalog(home)
        self.local_model = LocalModel(home.run / "local-model.log")
        self.pool = Pool(self.options.workers, home.run / "workers.log", cwd=None,
                         executor=self.options.executor,
                         llm_concurrency=self.options.llm_concurrency)
        self.missions: dict[str, MissionRun] = {}
        self.durations: dict[str, tuple[float, int]] = {}
        self.finished: dict[str, tuple[Outcome, Reason]] = {}
        self.identity = my_identity()
        self.stop_mode: str | None = None  # None | "graceful" | "force"
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._watched: dict[int, WorkerRecord] = {}
        self.watcher = Watcher(self.wake)
        self.rescan = True
        self._first_sweep = True
        self._timers = {"reconcile": 0.0, "sweep": 0.0, "sample": 0.0, "flush": 0.0}
        self.start_following()
        self.pause = EnginePause(
            lambda data: self.emit("engine.state", None, None, None, data),
            self._nap, lambda: self.stop_mode == "force")

    # -- outside controls (thread- and signal-safe) -----------------------------------

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def request_stop(self, force: bool = False) -> None:
        self.stop_mode = "force" if force or self.stop_mode else "graceful"
        self.wake()

    # -- the loop -------------------------------------------------------------------

    def run(self) -> dict[str, tuple[Outcome, Reason]]:
        self.home.ensure()
        with fsio.no_waiting():  # a home it cannot write at all: say so now (exit 3)
            self.write_pid_record()
        fsio.set_fault_waiter(self.pause)  # from here a full disk pauses this thread
        try:
            self.pool.start(scratch=self.home.tmp)
            self.watcher.start()
            self.watcher.watch(self.home.state_dir(S.COMMITTED))
            self.emit("engine.state", None, None, None,
                      {"state": "started", "pid": os.getpid(), "workers": self.options.workers})
            try:
                self.sweep_others()
                self.loop()
            finally:
                self.shutdown()
        finally:
            fsio.set_fault_waiter(None)
        return self.finished

    def done(self) -> bool:
        if self.stop_mode is not None and not self.missions:
            # Following another engine's mission: a stop asks it to cancel, and we wait.
            if self.stop_mode == "force":
                return True
            self.follow_others()
            return not self.following
        wanted = self.options.missions
        if wanted is not None:
            return all(mid in self.finished for mid in wanted)
        if self.options.until_idle and not self.missions:
            return not self.store.ids_in(S.COMMITTED)
        return False

    def wait_for_work(self) -> None:
        self.flush_events()  # before sleeping: readers see each step as it happens
        workers = self.pool.by_fd()
        self._watch_pipes(workers)
        for key, _ in self._selector.select(self.next_timeout()):
            if key.fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
                self.rescan = True
            elif (worker := workers.get(int(key.fd))) is not None:
                handle = self.on_io_message if worker.io else self.on_message
                for msg in self.pool.read(worker):
                    handle(worker, msg)

    def _watch_pipes(self, workers: dict[int, WorkerRecord]) -> None:
        """Keep the selector's set of worker pipes in step with the pool (a respawned
        worker may get a dead one's fd number, so registrations are keyed by worker)."""
        for fd, worker in list(self._watched.items()):
            if workers.get(fd) is not worker:
                self._selector.unregister(fd)
                del self._watched[fd]
        for fd, worker in workers.items():
            if fd not in self._watched:
                self._selector.register(fd, selectors.EVENT_READ)
                self._watched[fd] = worker

    def next_timeout(self) -> float:
        if self.rescan:  # a mission left: claim the next one without waiting
            return 0.0
        now = time.monotonic()
        due = [self._timers["reconcile"], self._timers["sweep"]]
        if (respawn := self.pool.next_respawn()) is not None:
            due.append(respawn)
        if (retract := self.retract_due()) is not None:
            due.append(retract)
        for m in self.missions.values():
            if m.dirty:
                due.append(self._timers["flush"])
            if m.next_retry is not None:
                due.append(m.next_retry)
            for t in m.running_tasks():
                if t.running is not None:
                    due.append(self._timers["sample"])
                    due += [x for x in (t.running.deadline, t.running.kill_at) if x is not None]
            if m.limits.max_wall_time is not None:
                due.append(m.started_mono + m.limits.max_wall_time)
        return max(0.0, min(due) - now) if due else 1.0

    def tick(self) -> None:
        now = time.monotonic()
        self.handle_dead_workers()
        if self.stop_mode is not None:
            self.handle_stop()
        if self.rescan or now >= self._timers["reconcile"]:
            self.rescan = False
            # Without inotify (watch limit reached) reconcile often enough to stay responsive.
            every = 0.5 if self.watcher.polling else self.options.reconcile_every
            self._timers["reconcile"] = now + every
            if self.stop_mode is None:
                self.claim_committed()
            self.check_cancels()
            self.follow_others()
        if now >= self._timers["sweep"]:
            self.sweep_others()
        self.check_running(now)
        self.retract_stuck(now)
        if self.stop_mode is None:
            self.dispatch(now)
        if now >= self._timers["sample"]:
            self._timers["sample"] = now + self.options.sample_every
            self.sample()
        if now >= self._timers["flush"]:
            self._timers["flush"] = now + 0.5
            for m in self.missions.values():
                # A wall-time budget survives a crash only if the time run is on disk.
                m.dirty = m.dirty or m.limits.max_wall_time is not None
                self.flush_status(m)
        for m in list(self.missions.values()):
            self.maybe_finish(m)

    def handle_dead_workers(self) -> None:
        for worker in self.pool.check(respawn=self.stop_mode != "force"):
            self.set_worker(worker, "dead", None, None)
            if worker.busy is not None:  # what it started dies with it, before any record
                kill_marked_processes(worker.mark)
            for key in list(worker.jobs):
                self.lost_job(key)

    def set_worker(self, worker: WorkerRecord, state: str, mission: str | None,
                   task: str | None) -> None:
        self.emit("worker.state", mission, task, None,
                  {"slot": worker.slot, "state": state, "pid": worker.pid})

    # -- missions -------------------------------------------------------------------

    def claim_committed(self) -> None:
        """Claim the oldest committed missions this engine has room for: one per task
        worker, so that other engines on the home share the work and one engine's death
        sends only what it was running through recovery."""
        # A held mission with nothing running nor ready (waiting on a gate) takes no room.
        room = self.options.workers - sum(
            1 for m in self.missions.values()
            if m.closing is None and (m.running_count() or m.heap))
        if room <= 0:
            return
        ids = sorted(self.store.ids_in(S.COMMITTED))
        if self.options.missions is not None:
            ids = [i for i in ids if i in self.options.missions and i not in self.finished]
        for mission_id in ids:
            if room <= 0:
                return
            try:
                ref = self.store.move(mission_id, S.COMMITTED, S.EXECUTING, Reason.CLAIMED,
                                      detail={"engine": os.getpid()})
            except (ConflictError, FileNotFoundError):
                continue
            self.adopt(ref)
            room -= 1

    def adopt(self, ref: MissionRef) -> None:
        record = {**self.identity.to_dict(), "since": iso(utcnow())}
        fsio.write_json_atomic(ref.path / "engine.json", record, durable=False)
        self.emit("mission.state", ref.id, None, None, {"state": S.EXECUTING.value})
        complete_folder(ref.path)  # a mission dropped in by hand may hold only mission.yaml
        status = self.store.status(ref)
        try:
            # The wall clock of a mission counts only its time in EXECUTING: it goes on
            # from what earlier runs counted, not from when it first started.
            m = MissionRun.load(ref, time.time() - bud.wall_time_so_far(status))
        except FileNotFoundError:
            self.reject_invalid(ref, "no mission.yaml in the mission folder")
            return
        except OSError as exc:
            if is_environment_fault(exc):  # not the mission's fault: hand it back, pause
                self.move_out(ref, Reason.RECOVERED, {"error": str(exc)})
                raise
            self.reject_invalid(ref, str(exc))
            return
        except (HoustonError, ValueError) as exc:
            self.reject_invalid(ref, str(exc))
            return
        problem = sch.unknown_needs(m.nodes()) or sch.find_cycle(m.nodes())
        if problem:
            self.reject_invalid(ref, f"bad needs: {problem}")
            return
        if status.get("name") in (None, ref.id) and m.spec.name != status.get("name"):
            self.store.update_status(ref, name=m.spec.name)
        self.missions[ref.id] = m
        self.watcher.watch(ref.path)
        self.warm_io(m)

    def reject_invalid(self, ref: MissionRef, error: str) -> None:
        """A mission that does not validate ends failed (`invalid`), its status saying why."""
        with contextlib.suppress(HoustonError):
            self.store.update_status(ref, error=error)
        self.move_out(ref, Reason.INVALID, {"error": error})

    def check_cancels(self) -> None:
        for m in list(self.missions.values()):
            request = m.folder / "cancel.request"
            if not m.cancel_seen and request.exists():
                m.cancel_seen = True
                self.close_mission(m, Reason.CANCELLED, {"by": "cancel.request"})
            elif m.count[sch.WAITING] and m.closing is None:
                self.check_gates(m)

    def close_mission(self, m: MissionRun, reason: Reason, detail: dict[str, Any]) -> None:
        """Stop every running attempt; the mission moves once none is left."""
        if m.closing is not None:
            return
        m.closing = (reason, detail)
        why = "interrupted" if reason is Reason.RECOVERED else "cancelled"
        for t in m.running_tasks():
            self.stop_attempt(m, t, why)

    def dispatch(self, now: float) -> None:
        for m in list(self.missions.values()):
            if m.closing is not None:
                continue
            if m.bad:
                self.skip_doomed(m)
            self.dispatch_mission(m, now)

    def dispatch_mission(self, m: MissionRun, now: float) -> None:
        """Start ready tasks of one mission while slots, concurrency and budget allow."""
        later: list[str] = []
        while m.heap and m.closing is None:
            task_id = m.heap[0][1]
            t = m.tasks[task_id]
            if t.state != sch.PENDING or m.blocked.get(task_id, 0) != 0:
                self._unqueue(m)
                continue
            if t.not_before > now:
                later.append(self._unqueue(m))
                continue
            if t.gated:
                self._unqueue(m)
                self.hold_at_gate(m, t)
                continue
            if not bud.concurrency_ok(m.limits, m.running_count()):
                break
            if m.limits.spends and not self.budget_allows(m, t):
                break
            worker = self.worker_for(m, t)
            if worker is None:
                # The +1 slot (or one kind of worker) is busy; others may take later tasks.
                if self.look_past(t, len(later)):
                    later.append(self._unqueue(m))
                    continue
                break
            self._unqueue(m)
            self.start_attempt(m, t, worker)
        for task_id in later:
            m.enqueue(m.tasks[task_id])
        waits = [m.tasks[i].not_before for i in later if m.tasks[i].not_before > now]
        m.next_retry = min(waits) if waits else None

    def budget_allows(self, m: MissionRun, t: TaskRun) -> bool:
        """Tokens and cost left for `t`'s reservation beside the running ones' (else the
        mission stops if nothing runs that could free any)."""
        ask = bud.reservation(bud.Limits.from_dict(t.spec.get("budget")))
        used = m.usage()
        if bud.exhausted(m.limits, used) or not bud.fits(m.limits, used, m.reserved(), ask):
            if m.running_count() == 0:
                figure = bud.room_figure(m.limits, used, m.reserved(), ask)
                self.close_mission(m, Reason.BUDGET_EXCEEDED, {"task": t.id, **figure})
            return False
        return True

    @staticmethod
    def _unqueue(m: MissionRun) -> str:
        task_id = heapq.heappop(m.heap)[1]
        m.queued.discard(task_id)
        return task_id

    def skip_doomed(self, m: MissionRun) -> None:
        m.bad = False
        for _ in range(len(m.tasks) + 1):
            doomed = sch.doomed(m.nodes(), m.states())
            if not doomed:
                return
            for task_id in doomed:
                t = m.tasks[task_id]
                t.error = "a task it needs did not succeed"
                m.set_state(t, sch.SKIPPED)
                self.save_task(m, t)
            m.bad = False

    def maybe_finish(self, m: MissionRun) -> None:
        if m.running_count():
            return
        if m.closing is None:
            if m.bad:
                self.skip_doomed(m)
            if not m.all_final():
                return
            ok = m.count[sch.SUCCEEDED] == len(m.tasks)
            m.closing = (Reason.ALL_TASKS_DONE if ok else Reason.TASK_FAILED, {})
        reason, detail = m.closing
        if reason is not Reason.RECOVERED:
            for t in m.tasks.values():
                if t.state in (sch.PENDING, sch.RUNNING, sch.WAITING):
                    m.set_state(t, sch.CANCELLED)
                    self.save_task(m, t)
        self.flush_status(m)
        del self.missions[m.id]
        self.watcher.unwatch(m.folder)
        self.move_out(m.ref, reason, detail)

    def move_out(self, ref: MissionRef, reason: Reason, detail: dict[str, Any]) -> None:
        target = S.COMMITTED if reason is Reason.RECOVERED else S.COMPLETED
        with contextlib.suppress(FileNotFoundError):
            (ref.path / "engine.json").unlink()
        try:
            self.store.move(ref.id, S.EXECUTING, target, reason, detail=detail or None)
        except ConflictError:
            return
        outcome = None if target is S.COMMITTED else _outcome(reason)
        self.emit("mission.state", ref.id, None, None,
                  {"state": target.value, "reason": reason.value,
                   "outcome": outcome.value if outcome else None, **detail})
        if outcome is not None:
            self.finished[ref.id] = (outcome, reason)
        self.rescan = True  # room for another committed mission

    def flush_status(self, m: MissionRun) -> None:
        if not m.dirty:
            return
        m.dirty = False
        usage = m.usage()
        wall = round(m.wall_time(time.monotonic()), 3)
        self.store.update_status(m.ref, counts=m.counts(),
                                 usage={"tokens": usage.tokens, "cost": usage.cost,
                                        "wall_time": wall})

    # -- stopping and recovery ------------------------------------------------------

    def handle_stop(self) -> None:
        reason = Reason.CANCELLED if self.options.on_stop == "cancel" else Reason.RECOVERED
        for m in list(self.missions.values()):
            self.close_mission(m, reason, {"by": "engine stop"})
            if self.stop_mode == "force":
                for t in m.running_tasks():
                    self.kill_attempt(m, t)
        if self.stop_mode == "force":
            self.handle_dead_workers()

    def sweep_others(self) -> None:
        self._timers["sweep"] = time.monotonic() + self.options.sweep_every
        try:
            # The first pass (at start) is full: records that disagree, leftover files.
            actions = sweep(self.home, me=self.identity.to_dict(), full=self._first_sweep)
            self._first_sweep = False
        except HoustonError as exc:
            actions = [{"action": "error", "error": str(exc)}]
        if actions:
            self.rescan = True

    @property
    def pid_record(self) -> Path:
        return self.home.run / f"engine-{os.getpid()}.json"

    def write_pid_record(self) -> None:
        """run/engine-<pid>.json: which engines run on this home (for doctor and humans)."""
        record = {**self.identity.to_dict(), "since": iso(utcnow()),
                  "workers": self.options.workers,
                  "missions": sorted(self.options.missions or []) or None}
        fsio.write_json_atomic(self.pid_record, record, durable=False)

    def shutdown(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.pid_record.unlink()
        self.stop_following()
        self.watcher.stop()
        self.pool.stop(grace=0.5)
        self.local_model.stop()
        self.emit("engine.state", None, None, None, {"state": "stopped", "pid": os.getpid()})
        self.flush_events()
        self.events.close()
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def emit(self, type_: str, mission: str | None, task: str | None, attempt: int | None,
             data: dict[str, Any]) -> None:
        """Record an event; the log gets each loop's events in one append (flush_events)."""
        self._pending.append((type_, mission, task, attempt, data, time.time()))
        if self.observer is not None:
            self.observer(type_, mission, task, attempt, data)

    def flush_events(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            fsio.persist(lambda: self.events.append_many(batch), self.home.events)


def _outcome(reason: Reason) -> Outcome:
    from houston.lifecycle import OUTCOME_BY_REASON

    return OUTCOME_BY_REASON[reason]
