"""The N+1 pool of warm workers: slot 0 runs initializers, slots 1..N run tasks.

Shaped like RQ's worker pool: one record per child, `reap` (collect the dead), `check`
(respawn), `stop`. Workers run in their own session, so a terminal's Ctrl-C reaches only
the engine (signal handlers live in the parent only) and stopping a worker's group stops
the python agent it was running. Messages arrive on each worker's stdout pipe; the engine
waits on those pipes (no polling), and EOF on a pipe is the instant sign of a dead worker.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from houston.core.ids import is_decimal
from houston.engine import protocol
from houston.engine.executors import LOCAL, Executor
from houston.engine.liveness import WORKER_MARK, engine_mark, identity_of, my_identity
from houston.engine.protocol import Claim, Key
from houston.runners import Job

INIT_SLOT = 0


@dataclass(eq=False)  # compared and hashed as itself: the job queues are keyed by it
class WorkerRecord:
    """One worker process. What it was sent to run is the engine's queue state
    (houston.engine.queues), not the process's."""

    slot: int
    proc: subprocess.Popen[bytes]
    identity: dict[str, Any]
    ready: bool = False
    agents: set[str] = field(default_factory=set)  # agents whose definition it was sent
    buffer: bytes = b""
    dead: bool = False
    started: float = field(default_factory=time.monotonic)
    mark: str = ""  # its HOUSTON_WORKER_MARK
    io: bool = False  # the network worker: its jobs all run at once (houston.engine.io_worker)

    @property
    def alive(self) -> bool:
        """Ready for jobs and not known dead."""
        return self.ready and not self.dead

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def fd(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()


class Pool:
    def __init__(
        self,
        size: int,
        log_path: Path,
        *,
        cwd: Path | None = None,
        executor: Executor = LOCAL,
        llm_concurrency: int = 32,
    ) -> None:
        self.size = size  # N task slots, plus the initializer slot
        # One more slot, after the task slots, for the network worker: started when the
        # first llm job comes, it runs up to llm_concurrency attempts at once.
        self.io_slot = size + 1
        self.llm_concurrency = llm_concurrency
        self.log_path = log_path
        self.cwd = cwd
        self.executor = executor
        self.workers: dict[int, WorkerRecord] = {}
        self.failed_starts: dict[int, int] = {}
        self.respawn_at: dict[int, float] = {}
        self._log: IO[bytes] | None = None
        self.engine = my_identity()
        self.spawned = 0
        self.deferred: set[int] = set()  # slots whose first spawn waits (start_deferred)

    def start(self, scratch: Path | None = None, *, initializer_later: bool = False) -> None:
        """Spawn every slot; first remove log scratch files of workers that are gone.

        `initializer_later`: spawn the initializer slot in `start_deferred` (called once the
        task workers are up and idle, or when an initializer needs its slot): on a machine with few
        cores, interpreters that start side by side share them, and the first tasks of
        most missions need a task worker first."""
        if scratch is not None:
            remove_dead_scratch(scratch)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the pool
        for slot in range(self.size + 1):
            if initializer_later and slot == INIT_SLOT:
                self.deferred.add(slot)
            else:
                self.spawn(slot)

    def start_deferred(self) -> None:
        """Spawn the slots `start` left for later (once: then they respawn as any slot)."""
        while self.deferred:
            self.spawn(self.deferred.pop())

    def spawn(self, slot: int) -> WorkerRecord:
        self.deferred.discard(slot)
        env = {**os.environ, **self.executor.env}
        env["HOUSTON_ENGINE_PID"] = str(os.getpid())  # the worker checks it outlived us
        self.spawned += 1
        mark = f"{engine_mark(self.engine)}{slot}/{self.spawned}"
        env[WORKER_MARK] = mark  # inherited by all it starts: found again if it dies
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")] if p
        )
        io = slot == self.io_slot
        argv = [sys.executable, "-m", self.executor.io_module if io else self.executor.module]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
            bufsize=0,
            env=env,
            cwd=self.cwd,
        )
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        ident = identity_of(proc.pid)
        record = WorkerRecord(
            slot, proc, ident.encode() if ident else {"pid": proc.pid}, mark=mark, io=io
        )
        self.workers[slot] = record
        return record

    def by_fd(self) -> dict[int, WorkerRecord]:
        return {w.fd: w for w in self.workers.values() if not w.dead}

    def slots(self, *, initializer: bool) -> range:
        """The initializer slot, or the N task slots."""
        return range(INIT_SLOT, INIT_SLOT + 1) if initializer else range(1, self.size + 1)

    def task_workers(self, *, initializer: bool) -> Iterator[WorkerRecord]:
        """The live workers of the initializer slot, or of the N task slots, in order."""
        for slot in self.slots(initializer=initializer):
            worker = self.workers.get(slot)
            if worker is not None and worker.ready and not worker.dead:
                yield worker

    def io_record(self) -> WorkerRecord | None:
        """The network worker if it is up (spawned on first ask)."""
        worker = self.workers.get(self.io_slot)
        if worker is None and self.io_slot not in self.respawn_at:
            worker = self.spawn(self.io_slot)
        return worker if worker is not None and worker.alive else None

    def io_if_up(self) -> WorkerRecord | None:
        worker = self.workers.get(self.io_slot)
        return worker if worker is not None and worker.alive else None

    def send(self, worker: WorkerRecord, job: Job, claim: Claim) -> None:
        """One job to the worker's stdin (houston.engine.protocol.encode_job)."""
        self._write(worker, protocol.encode_job(job, claim, worker.agents))

    def cancel(self, worker: WorkerRecord, key: Key, attempt: int) -> None:
        """Ask the network worker to stop one attempt (it answers `done` at once)."""
        self._write(worker, protocol.encode_cancel(key, attempt))

    def retract(self, worker: WorkerRecord, key: Key) -> None:
        """Ask for a queued job back: `dropped` comes if it had not started, else its `done`."""
        self._write(worker, protocol.encode_retract(key))

    @staticmethod
    def _write(worker: WorkerRecord, line: bytes) -> None:
        assert worker.proc.stdin is not None
        try:
            worker.proc.stdin.write(line)
        except (BrokenPipeError, OSError):
            worker.dead = True

    def read(self, worker: WorkerRecord) -> list[dict[str, Any]]:
        """Complete messages waiting on the worker's pipe; marks the worker dead on EOF.

        A worker killed while the engine handled another one's message may still be in
        the same `select` batch, its pipe already closed: that reads as EOF too."""
        stream = worker.proc.stdout
        if stream is None or stream.closed:
            worker.dead = True
            return []
        chunks = []
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)
            except BlockingIOError:
                break
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                worker.dead = True
                break
            chunks.append(chunk)
        data = worker.buffer + b"".join(chunks)
        *lines, worker.buffer = data.split(b"\n")
        return protocol.decode_lines(lines)

    def reap(self) -> list[WorkerRecord]:
        """Workers that died: waited for (no zombie), removed from the pool."""
        dead = []
        for slot, worker in list(self.workers.items()):
            if worker.dead or worker.proc.poll() is not None:
                worker.dead = True
                self.kill(worker)
                del self.workers[slot]
                dead.append(worker)
        return dead

    def check(self, *, respawn: bool = True) -> list[WorkerRecord]:
        """Reap the dead and respawn their slots. A worker that dies before it was ready
        (broken interpreter, import error) is respawned with backoff, not in a hot loop."""
        dead = self.reap()
        now = time.monotonic()
        for worker in dead:
            failures = 0 if worker.ready else self.failed_starts.get(worker.slot, 0) + 1
            self.failed_starts[worker.slot] = failures
            self.respawn_at[worker.slot] = now + (
                min(30.0, 0.25 * 2**failures) if failures else 0.0
            )
        if respawn:
            for slot, when in list(self.respawn_at.items()):
                if slot == self.io_slot:  # spawned again when an llm job asks for it
                    if when <= now:
                        del self.respawn_at[slot]
                    continue
                if when <= now and slot not in self.workers:
                    del self.respawn_at[slot]
                    self.spawn(slot)
        return dead

    def next_respawn(self) -> float | None:
        return min(self.respawn_at.values()) if self.respawn_at else None

    def kill(self, worker: WorkerRecord) -> None:
        """SIGKILL the worker's whole group (its python agent included) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if worker.proc.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.proc.wait(timeout=5)
        for stream in (worker.proc.stdin, worker.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        worker.dead = True

    def stop(
        self, grace: float = 1.0, busy: Callable[[WorkerRecord], bool] = lambda worker: False
    ) -> None:
        """Close every worker's stdin (they exit when idle), then kill what is left."""
        for worker in self.workers.values():
            with contextlib.suppress(OSError):
                if worker.proc.stdin is not None:
                    worker.proc.stdin.close()
        # A worker still starting was sent nothing: it is killed rather than waited for.
        idle = [w for w in self.workers.values() if w.ready and not busy(w)]
        wait_for_eof(idle, time.monotonic() + grace)
        for worker in self.workers.values():
            if worker in idle:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=0.05)  # its pipe closed: it is exiting
            self.kill(worker)
        self.workers.clear()
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_for_eof(workers: list[WorkerRecord], deadline: float) -> None:
    """Until each worker's message pipe closed (it exited) or the deadline: woken by the
    kernel when a pipe closes, where Popen.wait(timeout) would sleep and poll."""
    waiting = {w.fd: w for w in workers if w.proc.stdout is not None and not w.proc.stdout.closed}
    for _ in range(10_000):
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            return
        readable, _, _ = select.select(list(waiting), [], [], left)
        for fd in readable:
            try:
                chunk = os.read(fd, 65536)  # messages no one will handle now: dropped
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                del waiting[fd]


def remove_dead_scratch(folder: Path) -> None:
    """Workers keep empty log files as `.worker-<pid>-*.log` in missions/.tmp."""
    import psutil

    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(folder):
            parts = name.split("-")
            ours = name.startswith(".worker-") and len(parts) > 2 and is_decimal(parts[1])
            if ours and not psutil.pid_exists(int(parts[1])):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
