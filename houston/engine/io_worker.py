"""The network worker: many llm attempts at once in one process, one thread each.

An llm attempt spends its life waiting on an HTTP endpoint; holding one of the N CPU
slots for that wait would cap a mission at N model calls at a time. The engine instead
sends llm jobs to this worker (`python -m houston.engine.io_worker CAPACITY`), which runs
up to CAPACITY of them concurrently (`--llm-concurrency`). Each attempt is claimed,
recorded, accepted and released exactly as in houston.engine.worker; what differs:

* every message names its attempt (`key` = [mission, task], `attempt`), since many run;
* the engine stops one attempt with `{"cancel": [mission, task, attempt]}` instead of
  killing the process: the attempt is released and reported `done` at once by the reading
  thread, and its thread is abandoned (a Python thread cannot be killed; whatever it
  returns later is dropped, and its next usage report raises `AttemptStopped`). A child
  process it registered is stopped by the engine through agent.json, as for any agent;
* live output goes to the attempt's own stdout.log/stderr.log through per-thread routing
  (`houston.runners.write_output`, and `sys.stdout`/`sys.stderr`), never through fd 1.

If this process dies, every attempt in it is a crash and is requeued by the engine.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from houston import runners
from houston.core.errors import HoustonError
from houston.engine import protocol
from houston.engine.inbox import Inbox, send
from houston.engine.liveness import my_identity
from houston.engine.protocol import Claim, Done, Ready, UsageReport
from houston.engine.streams import AttemptStreams
from houston.engine.worker import WorkerContext, _die_with_parent, done_message, record_attempt
from houston.home import attemptfiles, claims, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.runners import Job, Outcome, get_runner

Key = tuple[str, str, int]  # mission, task, attempt


class AttemptStopped(Exception):
    """Raised in an attempt's thread once the engine stopped it."""


@dataclass
class Attempt:
    job: Job
    claim: Claim | None
    nonce: str | None = None
    started: float = field(default_factory=time.time)
    over: bool = False  # done was sent (by its thread, or by a cancel)
    stopped: threading.Event = field(default_factory=threading.Event)


class IoContext(WorkerContext):
    """A worker context whose messages name their attempt and that refuses to go on
    reporting once its attempt was stopped."""

    def __init__(self, job: Job, msg_fd: int, attempt: Attempt) -> None:
        super().__init__(job, msg_fd)
        self._attempt = attempt

    @property
    def stopped(self) -> bool:
        return self._attempt.stopped.is_set()

    def count_usage(
        self,
        tokens: int | None,
        cost: float,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> tuple[int, float]:
        if self.stopped:  # a stopped attempt's agent learns it at its next report
            raise AttemptStopped("the engine stopped this attempt")
        return super().count_usage(tokens, cost, model, input_tokens, output_tokens)

    def tell_usage(self, tokens: int, cost: float) -> None:
        self.keep_usage()  # first: the engine may stop this attempt on the report
        send(self._msg_fd, UsageReport(tokens, cost, *_names(self.job)))


class IoWorker:
    def __init__(self, msg_fd: int) -> None:
        self.msg_fd = msg_fd
        self.me = my_identity()
        self.lock = threading.Lock()
        self.attempts: dict[Key, Attempt] = {}
        self.out = AttemptStreams("stdout")
        self.err = AttemptStreams("stderr")

    def start(self, job: Job, claim: Claim | None) -> None:
        attempt = Attempt(job, claim)
        with self.lock:
            self.attempts[_key(job)] = attempt
        threading.Thread(
            target=self.run_or_die,
            args=(attempt,),
            daemon=True,
            name=f"attempt-{job.task_id}-{job.attempt}",
        ).start()

    def run_or_die(self, attempt: Attempt) -> None:
        """An attempt that cannot be recorded (disk full, permission denied) must not hang
        in silence: the worker dies, as a CPU worker would, and the engine requeues each
        of its attempts as a crash."""
        try:
            self.run(attempt)
        except BaseException:
            traceback.print_exc(file=sys.__stderr__)
            os._exit(70)

    def run(self, attempt: Attempt) -> None:
        job = attempt.job
        if attempt.claim is not None:
            attempt.nonce = self.claim(job, attempt.claim)
            if attempt.nonce is None:
                return
        ctx = IoContext(job, self.msg_fd, attempt)
        self.out.bind(job.attempt_dir)
        self.err.bind(job.attempt_dir)
        try:
            outcome = get_runner(job.runner).run(job, ctx)
        except HoustonError as exc:
            outcome = Outcome(ok=False, error=str(exc))
            if not attempt.stopped.is_set():  # a stopped attempt's folder may have moved on
                print(str(exc), file=sys.stderr)
        except BaseException as exc:  # an agent may raise anything; the thread must end
            if not attempt.stopped.is_set():
                traceback.print_exc()
            outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        finally:
            logs = self.out.unbind() | self.err.unbind()
        self.finish(attempt, outcome, ctx.usage_record(), logs)

    def claim(self, job: Job, claim: Claim) -> str | None:
        task_dir = taskfiles.task_path(job.mission_dir, job.task_id)
        why = "attempt_exists"
        if attemptfiles.make_attempt_dir(task_dir, job.attempt_dir):
            why = "locked"
            nonce = claims.claim_task(task_dir, self.me, claim.slot, job.attempt)
            if nonce is not None:
                if claim.spec is not None:
                    taskfiles.keep_spec(task_dir, claim.spec)
                return nonce
        self.forget(job)
        send(self.msg_fd, Done(ok=False, claim_failed=why, key=_names(job)[0], attempt=job.attempt))
        return None

    def finish(self, attempt: Attempt, outcome: Outcome, usage: UsageRecord, logs: bool) -> None:
        """Record, accept and release, then say done; nothing if a cancel got there first."""
        job = attempt.job
        with self.lock:
            if attempt.over:
                return  # stopped: the engine has its answer, this outcome is dropped
            attempt.over = True
            self.attempts.pop(_key(job), None)
            finished = time.time()
            if usage.tokens or usage.cost:
                attemptfiles.write_usage(job.attempt_dir, usage)
            if outcome.ok:
                attemptfiles.write_result(job.attempt_dir, outcome.result or {})
            accepted = self.record(attempt, outcome, finished)
        done = done_message(outcome, usage, logs, accepted, (attempt.started, finished), None)
        send(self.msg_fd, replace(done, key=_names(job)[0], attempt=job.attempt))

    def record(self, attempt: Attempt, outcome: Outcome, finished: float) -> bool:
        job, claim = attempt.job, attempt.claim
        if claim is None or attempt.nonce is None:
            return False
        accepted = record_attempt(job, claim, outcome, attempt.started, finished)
        release(job, attempt.nonce)
        return accepted

    def cancel(self, key: Key) -> None:
        """The engine stopped this attempt (timeout, cancel, budget): release it, say done."""
        with self.lock:
            attempt = self.attempts.pop(key, None)
            if attempt is None or attempt.over:
                return
            attempt.over = True
            attempt.stopped.set()
            job = attempt.job
            if attempt.nonce is not None:
                release(job, attempt.nonce)
        send(
            self.msg_fd,
            Done(
                ok=False,
                error="stopped by the engine",
                logs=True,
                started=attempt.started,
                finished=time.time(),
                key=_names(job)[0],
                attempt=job.attempt,
            ),
        )

    def forget(self, job: Job) -> None:
        with self.lock:
            self.attempts.pop(_key(job), None)


class IoInbox(Inbox):
    """Jobs as usual, plus `cancel` lines answered at once by the reading thread."""

    def __init__(self, msg_fd: int, worker: IoWorker) -> None:
        super().__init__(msg_fd)
        self.worker = worker

    def read_all(self, stream: Any) -> None:
        for line in stream:
            if line.startswith(protocol.CANCEL_PREFIX):
                if (key := protocol.decode_cancel(line)) is not None:
                    self.worker.cancel(key)
                continue
            with self.cond:
                self.lines.append(line)
                self.cond.notify()
        with self.cond:
            self.closed = True
            self.cond.notify()


def release(job: Job, nonce: str) -> None:
    """Let go of the task's lock into the attempt folder, once its exit.json is written."""
    claims.release_task(
        taskfiles.task_path(job.mission_dir, job.task_id), nonce, check=False, into=job.attempt_dir
    )


def _key(job: Job) -> Key:
    return job.mission_id, job.task_id, job.attempt


def _names(job: Job) -> tuple[protocol.Key, int]:
    """How this worker's messages name their attempt."""
    return (job.mission_id, job.task_id), job.attempt


def main() -> None:
    _die_with_parent()
    msg_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # fd 1 is nobody's log here: output is routed per thread
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the engine
    worker = IoWorker(msg_fd)
    sys.stdout, sys.stderr = worker.out, worker.err
    runners.route_output(worker.out.write_bytes)
    # Import the llm runner (urllib, http.client, ssl) before saying ready: otherwise the
    # first wave of attempts would wait on the import lock one after the other.
    get_runner("llm")
    serve(msg_fd, worker)


def serve(msg_fd: int, worker: IoWorker) -> None:
    """Say ready, then start each job the engine sends until it closes the pipe."""
    send(msg_fd, Ready(os.getpid(), io=True))
    inbox = IoInbox(msg_fd, worker)
    inbox.start(sys.stdin.buffer)
    while (item := inbox.next()) is not None:
        job, claim, error = item
        if job is None:
            send(msg_fd, Done(ok=False, error=error))
        else:
            worker.start(job, claim)


if __name__ == "__main__":
    main()
