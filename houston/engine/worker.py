"""A warm worker process: reads jobs (JSON lines) on stdin, runs them, reports on fd 1.

Jobs are read by a thread (houston.engine.inbox), so that the engine can take back one
that waits behind a running job; the jobs themselves run in the main thread.

Started by the pool as `python -m houston.engine.worker`; it imports the runners once and
then runs attempt after attempt, so python agents pay no interpreter start-up per task.
The protocol fd is moved away from fd 1 at start; during a job fds 1 and 2 point at the
attempt's stdout.log and stderr.log. Messages to the engine (houston.engine.protocol):
`ready`, `usage` (a delta), `done` (ok, error, exit_code, signal, usage), `dropped` (a
retracted job that had not started), `waiting_for_space`; a child process an agent starts
is recorded in the attempt's agent.json, not sent. The worker never handles signals:
the engine stops it (or its agent's process group) from outside. It dies with its engine
(PR_SET_PDEATHSIG) and also exits when stdin closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston.core.errors import HoustonError
from houston.core.taskstate import ExitReason
from houston.core.timestamps import iso_from_epoch
from houston.engine.envpause import WorkerPause, wait_for_space
from houston.engine.inbox import Inbox, send
from houston.engine.liveness import identity_of, my_identity
from houston.engine.protocol import Claim, Done, Ready, UsageReport, WaitingForSpace
from houston.engine.worker_logs import LogFiles
from houston.home import attemptfiles, claims, fsio, killpoints, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.home.layout import Home
from houston.home.records import ExitRecord, ProcessRecord
from houston.runners import Job, Outcome, context, get_runner
from houston.runners.context import JobContext
from houston.workspaces.mode import wants_worktree

if TYPE_CHECKING:
    import subprocess

    from houston.home.blackboard import Blackboard

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class WorkerContext(JobContext):
    """The `AgentContext` given to runners and python agents.

    Paths and the blackboard are made when an agent first asks for them: most attempts
    never do, and building them is a good part of what a quick task costs.
    """

    def __init__(self, job: Job, msg_fd: int) -> None:
        super().__init__(job)
        self._msg_fd = msg_fd

    @cached_property
    def blackboard(self) -> Blackboard:
        from houston.home.blackboard import Blackboard

        return Blackboard(
            self.mission_dir,
            mission_id=self.mission_id,
            task_id=self.task_id,
            events=_event_log(self.mission_dir),
        )

    def tell_usage(self, tokens: int, cost: float) -> None:
        self.keep_usage()  # first: the engine may stop this worker on the report
        send(self._msg_fd, UsageReport(tokens, cost))

    def keep_usage(self) -> None:
        """usage.json as it stands, once the model or the token split is known: a budget
        stop kills the worker, and the engine then writes only tokens and cost (which it
        was told) over what is here."""
        if self.model or self.input_tokens or self.output_tokens:
            attemptfiles.write_usage(self.job.attempt_dir, self.usage_record())

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        _event_log(self.mission_dir).append(
            type_, mission=self.mission_id, task=self.task_id, attempt=self.attempt, data=data
        )

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        record = identity_of(proc.pid) or ProcessRecord(proc.pid, None)
        # On disk only: the engine reads it when it must stop or sample the agent, so a
        # fast command costs the engine no extra wake-up.
        attemptfiles.write_agent(self.job.attempt_dir, record)


_EVENT_LOGS: dict[Path, Any] = {}


def _event_log(mission_dir: Path) -> Any:
    """One EventLog per home for the worker's life (it keeps its fds open)."""
    from houston.home.events import EventLog

    folder = Home.of_mission(mission_dir).events
    if folder not in _EVENT_LOGS:
        _EVENT_LOGS[folder] = EventLog(folder)
    return _EVENT_LOGS[folder]


def run_job(job: Job, msg_fd: int, worktree: bool = False) -> tuple[Outcome, UsageRecord, bool]:
    """Run one attempt with fds 1 and 2 on its logs; (outcome, usage, wrote any log).
    `worktree`: the attempt runs in its own git worktree (houston.workspaces.workspace)."""
    ctx = WorkerContext(job, msg_fd)
    attempt = job.attempt_dir
    out, err = _LOGS.attach(attempt, taskfiles.scratch_dir(job.mission_dir))
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        if job.inputs:  # fill {{ tasks.<id>.result }} from the results on disk
            ctx.inputs = job.inputs = context.resolved_inputs(job)
        if worktree:
            from houston.workspaces.workspace import run_in_worktree

            outcome = run_in_worktree(job, lambda: get_runner(job.runner).run(job, ctx))
        else:
            outcome = get_runner(job.runner).run(job, ctx)
    except HoustonError as exc:
        outcome = Outcome(ok=False, error=str(exc))
        print(str(exc), file=sys.stderr)
    except BaseException as exc:  # an agent may raise anything, SystemExit included
        import traceback  # here: most attempts never raise, and workers start faster

        traceback.print_exc()
        outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(_DEVNULL, 1)
        os.dup2(_LOGFD, 2)
    usage = ctx.usage_record()
    if ctx.tokens or ctx.cost:  # absent usage.json = nothing spent (one file less)
        attemptfiles.write_usage(attempt, usage)
    if outcome.ok:
        attemptfiles.write_result(attempt, outcome.result or {})
    logs = _LOGS.detach(attempt)
    return outcome, usage, logs


_LOGS = LogFiles()


RunJob = Callable[[Job, int], tuple[Outcome, UsageRecord, bool]]


def run_claimed(
    job: Job, claim: Claim | None, msg_fd: int, me: ProcessRecord, run: RunJob | None = None
) -> None:
    """Claim the task for this worker, run the attempt, record it, accept, release.

    The engine only sends a task it is not running; a failed claim (a leftover attempt
    folder or lock from an earlier life) is reported back instead of run.
    """
    nonce = None
    if claim is not None:
        nonce = _claim(job, claim, me, msg_fd)
        if nonce is None:
            return
    started = time.time()
    outcome, usage, logs = _run_attempt(job, claim, msg_fd, run)
    finished = time.time()
    # A failure on a full disk may be the disk's: wait for space, and say so (not counted).
    environment = (
        None
        if outcome.ok
        else wait_for_space(job.attempt_dir, notify=lambda: send(msg_fd, WaitingForSpace()))
    )
    accepted = False
    if claim is not None and nonce is not None:
        accepted = record_attempt(job, claim, outcome, started, finished)
        claims.release_task(
            taskfiles.task_path(job.mission_dir, job.task_id),
            nonce,
            check=False,
            into=job.attempt_dir,
        )
    send(msg_fd, done_message(outcome, usage, logs, accepted, (started, finished), environment))


def done_message(
    outcome: Outcome,
    usage: UsageRecord,
    logs: bool,
    accepted: bool,
    times: tuple[float, float],
    environment: str | None,
) -> Done:
    """The `done` message of an attempt that ran (the engine settles it from this)."""
    return Done(
        ok=outcome.ok,
        reason=outcome_reason(outcome),
        error=outcome.error,
        result=outcome.result,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        usage=usage,
        logs=logs,
        accepted=accepted,
        started=times[0],
        finished=times[1],
        environment=environment or None,
    )


def _run_attempt(
    job: Job, claim: Claim | None, msg_fd: int, run: RunJob | None
) -> tuple[Outcome, UsageRecord, bool]:
    """Run the claimed attempt (here, or through `run`), then end what it left running."""
    spec = claim.spec if claim else None
    worktree = wants_worktree(spec.workspace if spec else None, job.agent)
    if run is None or worktree:  # a git worktree lives beside the home: it runs here
        outcome, usage, logs = run_job(job, msg_fd, worktree)
    else:
        outcome, usage, logs = run(job, msg_fd)
    killpoints.reached("worker.ran")
    end_strays()
    return outcome, usage, logs


def end_strays(timeout: float = 2.0) -> int:
    """SIGKILL every process still below this worker once an attempt is over, and reap
    them: nothing an attempt started outlives it. Repeated until none is left (one may
    fork while we kill), within `timeout`. How many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while _has_children() and time.monotonic() < deadline:
        import psutil  # only here: most attempts leave no child, and workers start faster

        try:
            strays = psutil.Process().children(recursive=True)
        except psutil.Error:
            strays = []
        for proc in strays:
            with contextlib.suppress(psutil.Error):
                proc.kill()
                killed.add(proc.pid)
        _reap_exited()
        time.sleep(0.001 if strays else 0.0)
    return len(killed)


def _reap_exited() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass


def _has_children() -> bool:
    """One syscall: waitid answers ECHILD exactly when this process has no child at all
    (psutil would walk the whole of /proc to find out)."""
    if not hasattr(os, "waitid"):
        import psutil

        return bool(psutil.Process().children())
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _claim(job: Job, claim: Claim, me: ProcessRecord, msg_fd: int) -> str | None:
    """mkdir the attempt folder and the task lock (and spec.json once); the nonce."""
    task_dir = taskfiles.task_path(job.mission_dir, job.task_id)
    if not attemptfiles.make_attempt_dir(task_dir, job.attempt_dir):
        send(msg_fd, Done(ok=False, claim_failed="attempt_exists"))
        return None
    # The lock names this worker's slot: while it exists the task is running, so no
    # task state is written on the way in (nor on success: the accepted result says it).
    nonce = claims.claim_task(task_dir, me, claim.slot, job.attempt)
    if nonce is None:
        send(msg_fd, Done(ok=False, claim_failed="locked"))
        return None
    if claim.spec is not None:
        taskfiles.keep_spec(task_dir, claim.spec)
    return nonce


def record_attempt(
    job: Job, claim: Claim, outcome: Outcome, started: float, finished: float
) -> bool:
    """exit.json, and on success the accepted result; True if accepted."""
    attemptfiles.write_exit(
        job.attempt_dir,
        ExitRecord(
            outcome_reason(outcome),
            outcome.exit_code,
            outcome.signal,
            iso_from_epoch(started),
            iso_from_epoch(finished),
            round(finished - started, 6),
            outcome.error,
        ),
        missing_ok=False,
    )
    killpoints.reached("worker.recorded")
    if not (outcome.ok and claim.accept):
        return False
    taskfiles.accept_result(job.mission_dir, job.task_id, outcome.result or {}, job.attempt_dir)
    return True


def outcome_reason(outcome: Outcome) -> str:
    """An agent killed by a signal crashed; a non-zero exit or an exception failed.

    The engine overrides this when it sent the signal (timeout, cancel, budget stop)."""
    if outcome.ok:
        return ExitReason.SUCCEEDED
    return ExitReason.CRASHED if outcome.signal else ExitReason.FAILED


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # Descendants whose parent exits (a shell's `cmd &`, a daemon's double fork) are
        # handed to this worker instead of init, so end_strays finds and reaps them.
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    # The engine died before prctl took effect: we were handed to init or a subreaper.
    engine = os.environ.get("HOUSTON_ENGINE_PID", "")
    if os.getppid() == 1 or (engine.isdecimal() and os.getppid() != int(engine)):
        os._exit(0)


_DEVNULL = -1
_LOGFD = -1


def main(run: RunJob | None = None) -> None:
    """`run` executes one attempt: here by default; another executor passes its own
    (houston.engine.ray_worker)."""
    global _DEVNULL, _LOGFD
    _die_with_parent()
    msg_fd = os.dup(1)
    _DEVNULL = os.open(os.devnull, os.O_RDWR)
    _LOGFD = os.dup(2)
    os.dup2(_DEVNULL, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the engine
    fsio.set_fault_waiter(WorkerPause())  # a full disk: wait and write again, lose nothing
    send(msg_fd, Ready(os.getpid()))
    me = my_identity()
    inbox = Inbox(msg_fd)
    inbox.start(sys.stdin.buffer)
    while (item := inbox.next()) is not None:
        job, claim, error = item
        if job is None:
            send(msg_fd, Done(ok=False, error=error))
        else:
            run_claimed(job, claim, msg_fd, me, run)


if __name__ == "__main__":
    main()
    # Everything is on disk and said: skip the interpreter's teardown (tens of ms of
    # module clean-up that an engine's shutdown would wait for).
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)
