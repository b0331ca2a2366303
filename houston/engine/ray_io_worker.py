"""The network worker of `--executor ray`: llm attempts as Ray tasks on the cluster.

It is the network worker (houston.engine.io_worker: many attempts at once, one thread
each, messages naming their attempt, claim, record, accept and release here), whose
threads submit each attempt as a Ray task and wait for its answer instead of calling the
model themselves. What differs from the local network worker, and why:

- A cancel (timeout, cancel, budget stop) releases the attempt at once, as there, and
  also cancels its Ray task: first plainly (Ray raises KeyboardInterrupt in it, so its
  tools' process groups are killed on the node), then, STOP_GRACE seconds later, with
  `force=True` (Ray kills the worker process running it).
- A lost node or Ray worker is a crash of that one attempt: exit.json says `crashed`,
  the lock is released and `done` carries `crashed`, so the engine requeues the task as
  a new attempt (within its crash cap) while the other attempts go on. Dying instead, as
  a CPU slot does, would crash every attempt in flight, on healthy nodes too.
- Each llm task asks Ray for `HOUSTON_RAY_LLM_CPUS` CPUs (default 0.01): it waits on the
  network, so a hundred share one CPU, yet it is never placed on a node that offers no
  CPU (a head started with `--num-cpus 0`).
- Usage is passed on while the attempt runs (houston.engine.ray_worker.LiveUsage), logs
  and the agent's events when it ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from houston.core.timestamps import iso_from_epoch
from houston.engine import ray_worker
from houston.engine.inbox import send
from houston.engine.io_worker import Attempt, IoWorker, Key, _key, _names, release, serve
from houston.engine.protocol import Done, UsageReport
from houston.engine.worker import _die_with_parent
from houston.home import attemptfiles
from houston.home.attempt_records import UsageRecord
from houston.home.records import ExitRecord
from houston.runners import Outcome

DEFAULT_LLM_CPUS = 0.01
STOP_GRACE = 10.0  # seconds between the plain and the forced cancel of a Ray task
DRAIN_TIMEOUT = 0.8  # at exit; within the pool's 1 s grace before it kills a worker


def llm_cpus(environ: dict[str, str] | os._Environ[str]) -> float:
    """The CPUs each llm task asks Ray for (HOUSTON_RAY_LLM_CPUS)."""
    text = environ.get("HOUSTON_RAY_LLM_CPUS", "").strip()
    try:
        value = float(text) if text else DEFAULT_LLM_CPUS
    except ValueError:
        value = -1.0
    if value < 0:
        sys.stderr.write(
            f"houston: HOUSTON_RAY_LLM_CPUS={text!r} is not a number >= 0; "
            f"using {DEFAULT_LLM_CPUS}\n"
        )
        return DEFAULT_LLM_CPUS
    return value


class RayIoWorker(IoWorker):
    def __init__(self, msg_fd: int, cpus: float) -> None:
        super().__init__(msg_fd)
        self.cpus = cpus
        self.refs: dict[Key, Any] = {}  # the Ray task of each running attempt
        self.cancelled: list[Any] = []  # Ray tasks cancelled plainly, not yet known ended
        self.live = ray_worker.LiveUsage(self.report_usage)
        self.box = ray_worker.start_progress(self.live)

    def report_usage(self, key: Key, tokens: int, cost: float) -> None:
        with self.lock:
            attempt = self.attempts.get(key)
            if attempt is None or attempt.over:
                return
        send(self.msg_fd, UsageReport(tokens, cost, *_names(attempt.job)))

    def run(self, attempt: Attempt) -> None:
        import ray

        job = attempt.job
        if attempt.claim is not None:
            attempt.nonce = self.claim(job, attempt.claim)
            if attempt.nonce is None:
                return
        key = _key(job)
        self.live.open(key)
        try:
            ref = ray_worker.submit(job, self.box, num_cpus=self.cpus)
            with self.lock:
                self.refs[key] = ref
                stopped = attempt.over
            if stopped:  # cancelled while it was being submitted
                ray.cancel(ref, force=True)
            answer: dict[str, Any] = ray.get(ref)
        except ray.exceptions.RayError as exc:
            reported = self.live.close(key)
            if ray_worker.is_crash(exc):
                self.lost(attempt, exc, reported)
            else:
                self.finish(
                    attempt,
                    Outcome(ok=False, error=f"Ray could not run the attempt: {exc}"),
                    reported,
                    False,
                )
            return
        finally:
            with self.lock:
                self.refs.pop(key, None)
        self.settle(attempt, answer, self.live.close(key))

    def settle(self, attempt: Attempt, answer: dict[str, Any], reported: UsageRecord) -> None:
        """The answer's logs and the usage not yet passed on, then record as usual."""
        job = attempt.job
        with self.lock:
            if attempt.over:
                return  # stopped: its folder may have moved on
        logs = ray_worker.write_logs(job, answer)
        usage = ray_worker.usage_of(answer)
        tokens = usage.tokens - reported.tokens
        cost = round(usage.cost - reported.cost, 10)
        if tokens or cost:
            self.report_usage(_key(job), tokens, cost)
        outcome = Outcome(
            ok=bool(answer["ok"]),
            result=answer.get("result"),
            error=answer.get("error"),
            exit_code=answer.get("exit_code"),
            signal=answer.get("signal"),
        )
        self.finish(attempt, outcome, usage, logs)

    def lost(self, attempt: Attempt, exc: BaseException, usage: UsageRecord) -> None:
        """Its node or Ray worker died: record a crash, release, tell the engine."""
        job = attempt.job
        error = f"the Ray node or worker running the attempt was lost: {type(exc).__name__}"
        finished = self._end_lost(attempt, error)
        if finished is None:
            return
        sys.stderr.write(f"houston ray network worker: {error}: {exc}\n")
        key, number = _names(job)
        send(
            self.msg_fd,
            Done(
                ok=False,
                crashed=True,
                reason="crashed",
                error=error,
                usage=usage,
                logs=False,
                started=attempt.started,
                finished=finished,
                key=key,
                attempt=number,
            ),
        )

    def _end_lost(self, attempt: Attempt, error: str) -> float | None:
        """Mark a lost attempt over and record its crash; when it ended (None: it was
        already over)."""
        job = attempt.job
        with self.lock:
            if attempt.over:
                return None
            attempt.over = True
            self.attempts.pop(_key(job), None)
            finished = time.time()
            if attempt.nonce is not None:  # record first, release second
                attemptfiles.write_exit(
                    job.attempt_dir,
                    ExitRecord(
                        "crashed",
                        started=iso_from_epoch(attempt.started),
                        finished=iso_from_epoch(finished),
                        duration=round(finished - attempt.started, 6),
                        error=error,
                    ),
                    missing_ok=False,
                )
                release(job, attempt.nonce)
        return finished

    def cancel(self, key: Key) -> None:
        """Stop the attempt as the local network worker does, and kill its Ray task."""
        import ray

        super().cancel(key)
        with self.lock:
            ref = self.refs.pop(key, None)
        if ref is None:
            return
        # As SIGTERM, grace, SIGKILL: a plain cancel raises KeyboardInterrupt in the task,
        # whose runner then stops the tools' processes; the forced one kills its worker.
        ray.cancel(ref, force=False)
        with self.lock:
            self.cancelled.append(ref)
            # Forget those that have ended: a long `serve` cancels many.
            _, self.cancelled = ray.wait(self.cancelled, num_returns=len(self.cancelled), timeout=0)
        timer = threading.Timer(STOP_GRACE, ray.cancel, args=(ref,), kwargs={"force": True})
        timer.daemon = True
        timer.start()

    def drain(self, timeout: float) -> None:
        """At exit: give the tasks cancelled plainly a moment to end by themselves (and
        stop their tools), since this driver's death makes Ray kill them at once."""
        import ray

        with self.lock:
            pending = list(self.cancelled)
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=timeout)


def main() -> None:
    _die_with_parent()
    msg_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # fd 1 is nobody's log here: attempts run on the nodes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the engine
    ray_worker.connect()
    worker = RayIoWorker(msg_fd, llm_cpus(os.environ))
    serve(msg_fd, worker)
    worker.drain(DRAIN_TIMEOUT)


if __name__ == "__main__":
    main()
