"""The engine loop: claim missions, dispatch ready tasks to warm workers, finish missions.

One thread drives everything. It sleeps in `select` on the workers' pipes and a wake-up
pipe (written by the filesystem watcher and by signal handlers) with a timeout set by the
next timer (requeue backoff, deadlines, samples, reconcile), so nothing is polled in a tight
loop. A dead worker shows up at once as EOF on its pipe; its task is requeued as a new
attempt.

The engine is built from parts, each given what it uses (houston.engine.*):
missions (claim, load, close), dispatch, attempts (start, settle), messages (from the
workers), pipelining, stopping, recording (task states), spending (budgets), gating,
sampling, following (missions other engines run), over the pool of workers and their
job queues.
"""

from __future__ import annotations

import os
import selectors
import time

from houston.agents.catalog import AgentCatalog
from houston.clock import utcnow
from houston.core.errors import HoustonError, is_environment_fault
from houston.core.lifecycle import MissionState, Outcome, Reason
from houston.core.timestamps import iso
from houston.engine.active import ActiveMissions
from houston.engine.attempts import Attempts
from houston.engine.control import Control
from houston.engine.dispatch import Dispatcher
from houston.engine.emitter import Emitter
from houston.engine.envpause import EnginePause
from houston.engine.follow import Follower
from houston.engine.gating import GateKeeper
from houston.engine.iodispatch import WorkerChoice
from houston.engine.liveness import kill_marked_processes, my_identity
from houston.engine.localmodel import LocalModel
from houston.engine.messages import MessageRouter
from houston.engine.missions import MissionKeeper
from houston.engine.options import EngineOptions, Observer
from houston.engine.pipelining import Pipelining
from houston.engine.pool import Pool, WorkerRecord
from houston.engine.queues import JobQueues
from houston.engine.recording import TaskRecorder
from houston.engine.recovery import sweep
from houston.engine.sampling import Sampler
from houston.engine.spending import BudgetKeeper
from houston.engine.stopping import Stopper
from houston.home import fsio
from houston.home.engine_record import RunningEngine, remove_running_engine, write_running_engine
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.home.watch import Watcher

__all__ = ["Engine", "EngineOptions", "Observer"]


class Engine:
    def __init__(
        self, home: Home, options: EngineOptions | None = None, observer: Observer | None = None
    ) -> None:
        self.home = home
        self.options = options = options or EngineOptions()
        self.store = MissionStore(home)
        self.identity = my_identity()
        self.control = Control()
        self.emitter = Emitter(home, observer)
        self.local_model = LocalModel(home.local_model_log)
        self.pool = Pool(
            options.workers,
            home.workers_log,
            cwd=None,
            executor=options.executor,
            llm_concurrency=options.llm_concurrency,
        )
        self.queues = JobQueues(self.pool)
        self.active = ActiveMissions(self.queues)
        self.watcher = Watcher(self.control.wake)
        self._build_parts(AgentCatalog(home))
        self.pause = EnginePause(
            lambda data: self.emitter.emit("engine.state", None, None, None, data),
            self.control.nap,
            lambda: self.control.forced,
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.control.wake_fd, selectors.EVENT_READ)
        self._watched: dict[int, WorkerRecord] = {}
        self._first_sweep = True
        self._timers = {"reconcile": 0.0, "sweep": 0.0, "sample": 0.0, "flush": 0.0}

    def _build_parts(self, catalog: AgentCatalog) -> None:
        """Each part gets what it uses; none reaches into another through the engine."""
        options, pool, queues = self.options, self.pool, self.queues
        active, emitter = self.active, self.emitter
        self.stopper = Stopper(pool, queues, active, options)
        self.recorder = TaskRecorder(emitter, self.stopper)
        self.budgets = BudgetKeeper(emitter, self.stopper)
        self.gates = GateKeeper(self.recorder, self.stopper)
        self.pipelining = Pipelining(pool, queues, active, options, emitter, self.recorder)
        self.choice = WorkerChoice(queues, catalog, self.local_model, self.pipelining)
        self.sampler = Sampler(pool, active, emitter)
        self._build_drivers(catalog)

    def _build_drivers(self, catalog: AgentCatalog) -> None:
        """The parts that drive attempts and missions, over the parts `_build_parts` made."""
        home, options, pool, queues = self.home, self.options, self.pool, self.queues
        active, emitter = self.active, self.emitter
        self.attempts = Attempts(
            home,
            options,
            pool,
            queues,
            catalog,
            active,
            emitter,
            self.recorder,
            self.budgets,
            self.choice,
            self.sampler,
            self.pipelining,
        )
        self.router = MessageRouter(
            queues, active, emitter, self.attempts, self.pipelining, self.budgets
        )
        self.dispatcher = Dispatcher(
            active, self.choice, self.budgets, self.gates, self.recorder, self.attempts
        )
        self.keeper = MissionKeeper(
            self.store,
            options,
            self.identity,
            active,
            self.control,
            self.watcher,
            emitter,
            (self.choice, self.gates, self.stopper, self.recorder),
        )
        self.follower = Follower(
            home, self.store, options, active, self.control, self.watcher, emitter
        )

    # -- outside controls (thread- and signal-safe) -----------------------------------

    @property
    def stop_mode(self) -> str | None:
        return self.control.stop_mode

    @property
    def finished(self) -> dict[str, tuple[Outcome, Reason]]:
        """Missions this engine ended (or saw end elsewhere): id -> (outcome, reason)."""
        return self.active.finished

    def wake(self) -> None:
        self.control.wake()

    def request_stop(self, force: bool = False) -> None:
        self.control.request_stop(force)

    # -- the loop -------------------------------------------------------------------

    def run(self) -> dict[str, tuple[Outcome, Reason]]:
        self.home.ensure()
        with fsio.no_waiting():  # a home it cannot write at all: say so now (exit 3)
            self.write_pid_record()
        fsio.set_fault_waiter(self.pause)  # from here a full disk pauses this thread
        try:
            self.pool.start(scratch=self.home.tmp, initializer_later=True)
            self.watcher.start()
            self.watcher.watch(self.home.state_dir(MissionState.COMMITTED))
            self.emitter.emit(
                "engine.state",
                None,
                None,
                None,
                {"state": "started", "pid": os.getpid(), "workers": self.options.workers},
            )
            try:
                self.sweep_others()
                self.loop()
            finally:
                self.shutdown()
        finally:
            fsio.set_fault_waiter(None)
        return self.active.finished

    def loop(self) -> None:
        """Turn after turn until done; an environment fault that escaped fsio.persist
        (a mkdir, a lock file) pauses the engine instead of killing it."""
        tries = 0
        while not self.done():
            try:
                self.wait_for_work()
                self.tick()
            except OSError as exc:
                if not is_environment_fault(exc):
                    raise
                tries += 1
                self.pause.wait(exc, tries)
                self.control.rescan = True  # look at everything again: the tick was cut short
                continue
            if tries:
                tries = 0
                self.pause.cleared()

    def done(self) -> bool:
        if self.control.stop_mode is not None and not self.active.runs:
            # Following another engine's mission: a stop asks it to cancel, and we wait.
            if self.control.forced:
                return True
            self.follower.follow_others()
            return not self.follower.following
        wanted = self.options.missions
        if wanted is not None:
            return all(mid in self.active.finished for mid in wanted)
        if self.options.until_idle and not self.active.runs:
            return not self.store.ids_in(MissionState.COMMITTED)
        return False

    def wait_for_work(self) -> None:
        self.emitter.flush()  # before sleeping: readers see each step as it happens
        self.queues.start_deferred_if_quiet()  # the initializer slot, when nothing runs
        workers = self.pool.by_fd()
        self._watch_pipes(workers)
        for key, _ in self._selector.select(self.next_timeout()):
            if key.fd == self.control.wake_fd:
                self.control.drain()
            elif (worker := workers.get(int(key.fd))) is not None:
                for raw in self.pool.read(worker):
                    self.router.on_raw(worker, raw)
        self.start_dependents()

    def start_dependents(self) -> None:
        """The tasks that attempts just ended made ready start now, before the rest of
        the tick: a chain of tasks moves at the pace of its workers, not of the loop."""
        settled = self.router.take_settled()
        if self.control.stop_mode is not None:
            return
        now = time.monotonic()
        for mission_id in settled:
            m = self.active.runs.get(mission_id)
            if m is not None and m.closing is None and m.heap and not m.bad:
                self.dispatcher.dispatch_mission(m, now)

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
        if self.control.rescan:  # a mission left: claim the next one without waiting
            return 0.0
        now = time.monotonic()
        due = [self._timers["reconcile"], self._timers["sweep"]]
        if (respawn := self.pool.next_respawn()) is not None:
            due.append(respawn)
        if (retract := self.pipelining.retract_due()) is not None:
            due.append(retract)
        for m in self.active.runs.values():
            if m.dirty:
                due.append(self._timers["flush"])
            if m.next_requeue is not None:
                due.append(m.next_requeue)
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
        if self.control.stop_mode is not None:
            self.handle_stop()
        if self.control.rescan or now >= self._timers["reconcile"]:
            self.reconcile(now)
        if now >= self._timers["sweep"]:
            self.sweep_others()
        for m in list(self.active.runs.values()):
            self.stopper.check_deadlines(m, now)
            self.budgets.check_wall_time(m, now)
        self.pipelining.retract_stuck(now)
        if self.control.stop_mode is None:
            self.dispatcher.dispatch(now)
        if now >= self._timers["sample"]:
            self._timers["sample"] = now + self.options.sample_every
            self.sampler.sample()
        if now >= self._timers["flush"]:
            self._timers["flush"] = now + 0.5
            self.keeper.flush_all()
        for m in list(self.active.runs.values()):
            self.keeper.maybe_finish(m)

    def reconcile(self, now: float) -> None:
        self.control.rescan = False
        # Without inotify (watch limit reached) reconcile often enough to stay responsive.
        every = 0.5 if self.watcher.polling else self.options.reconcile_every
        self._timers["reconcile"] = now + every
        if self.control.stop_mode is None:
            self.keeper.claim_committed()
        self.keeper.check_cancels()
        self.follower.follow_others()

    def handle_dead_workers(self) -> None:
        for worker in self.pool.check(respawn=not self.control.forced):
            self.emitter.worker_state(worker, "dead", None, None)
            if self.queues.busy(worker):  # what it started dies with it, before any record
                kill_marked_processes(worker.mark)
            for key in self.queues.forget(worker):
                self.attempts.lost_job(key)

    # -- stopping and recovery ------------------------------------------------------

    def handle_stop(self) -> None:
        reason = Reason.CANCELLED if self.options.on_stop == "cancel" else Reason.RECOVERED
        for m in list(self.active.runs.values()):
            self.stopper.close_mission(m, reason, {"by": "engine stop"})
            if self.control.forced:
                for t in m.running_tasks():
                    self.stopper.kill_attempt(m, t)
        if self.control.forced:
            self.handle_dead_workers()

    def sweep_others(self) -> None:
        self._timers["sweep"] = time.monotonic() + self.options.sweep_every
        try:
            # The first pass (at start) is full: records that disagree, leftover files.
            actions = sweep(self.home, me=self.identity, full=self._first_sweep)
            self._first_sweep = False
        except HoustonError as exc:
            actions = [{"action": "error", "error": str(exc)}]
        if actions:
            self.control.rescan = True

    def write_pid_record(self) -> None:
        """run/engine-<pid>.json: which engines run on this home (for doctor and humans)."""
        me = self.identity
        missions = tuple(sorted(self.options.missions or [])) or None
        record = RunningEngine(
            me.pid,
            me.start_token,
            me.host,
            me.boot_id,
            iso(utcnow()),
            self.options.workers,
            missions,
        )
        write_running_engine(self.home, record)

    def shutdown(self) -> None:
        remove_running_engine(self.home, self.identity.pid)
        self.follower.stop_following()
        self.watcher.stop()
        # Idle workers exit at once; the Ray network worker first gives the tasks it
        # cancelled up to 0.8 s to stop their tools (ray_io_worker.DRAIN_TIMEOUT).
        self.pool.stop(grace=1.0, busy=self.queues.busy)
        self.local_model.stop()
        self.emitter.emit(
            "engine.state", None, None, None, {"state": "stopped", "pid": os.getpid()}
        )
        self.emitter.close()
        self._selector.close()
        self.control.close()
