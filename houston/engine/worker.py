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
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston.core.errors import HoustonError
from houston.core.taskstate import ExitReason
from houston.core.timestamps import iso
from houston.engine.envpause import WorkerPause, wait_for_space
from houston.engine.inbox import Inbox, send
from houston.engine.liveness import identity_of, my_identity
from houston.engine.protocol import Claim, Done, Ready, UsageReport, WaitingForSpace
from houston.home import claims, fsio, killpoints, taskfiles
from houston.home.taskfiles import write_json_fast
from houston.runners import Job, Outcome, context, get_runner
from houston.runners.context import JobContext
from houston.workspaces.workspace import wants_worktree

if TYPE_CHECKING:
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

        return Blackboard(self.mission_dir, mission_id=self.mission_id, task_id=self.task_id,
                          events=_event_log(self.mission_dir))

    def report_usage(self, tokens: int | None = None, cost: float = 0.0, *,
                     model: str | None = None, input_tokens: int = 0,
                     output_tokens: int = 0) -> None:
        tokens, cost = self.count_usage(tokens, cost, model, input_tokens, output_tokens)
        self.keep_usage()  # first: the engine may stop this worker on the report
        send(self._msg_fd, UsageReport(tokens, cost))

    def keep_usage(self) -> None:
        """usage.json as it stands, once the model or the token split is known: a budget
        stop kills the worker, and the engine then writes only tokens and cost (which it
        was told) over what is here."""
        if self.model or self.input_tokens or self.output_tokens:
            write_json_fast(f"{self.job.attempt_dir}/usage.json", self.usage_record())

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        _event_log(self.mission_dir).append(type_, mission=self.mission_id, task=self.task_id,
                                            attempt=self.attempt, data=data)

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        ident = identity_of(proc.pid)
        record = ident.to_dict() if ident else {"pid": proc.pid, "start_token": None}
        # On disk only: the engine reads it when it must stop or sample the agent, so a
        # fast command costs the engine no extra wake-up.
        write_json_fast(f"{self.job.attempt_dir}/agent.json", record)


_EVENT_LOGS: dict[Path, Any] = {}


def _event_log(mission_dir: Path) -> Any:
    """One EventLog per home for the worker's life (it keeps its fds open)."""
    from houston.home.events import EventLog

    folder = mission_dir.parent.parent.parent / "events"  # <home>/missions/<STATE>/<id>
    if folder not in _EVENT_LOGS:
        _EVENT_LOGS[folder] = EventLog(folder)
    return _EVENT_LOGS[folder]


def run_job(job: Job, msg_fd: int,
            worktree: bool = False) -> tuple[Outcome, dict[str, Any], bool]:
    """Run one attempt with fds 1 and 2 on its logs; (outcome, usage, wrote any log).
    `worktree`: the attempt runs in its own git worktree (houston.workspaces.workspace)."""
    ctx = WorkerContext(job, msg_fd)
    attempt = job.attempt_dir
    out, err = _LOGS.attach(attempt)
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
        write_json_fast(f"{attempt}/usage.json", usage)
    if outcome.ok:
        write_json_fast(f"{attempt}/result.json", outcome.result or {})
    logs = _LOGS.detach(attempt)
    return outcome, usage, logs


class LogFiles:
    """stdout.log and stderr.log of attempts, without creating two files per attempt.

    Creating inodes is what a task costs most on a filesystem. A pair of empty scratch
    files (in missions/.tmp, the same filesystem) is renamed into the attempt folder when
    it starts, so logs are live where readers look; a log still empty at the end is
    renamed back and reused (an absent log means an empty one).
    """

    def __init__(self) -> None:
        self.scratch: dict[str, tuple[int, str]] = {}

    def attach(self, attempt: str) -> tuple[int, int]:
        # <missions>/<STATE>/<id>/tasks/<t>/attempts/<n> -> <missions>/.tmp
        tmp = attempt.rsplit("/", 6)[0] + "/.tmp"
        fds = []
        for stream in ("stdout", "stderr"):
            if stream not in self.scratch and os.path.isdir(tmp):  # noqa: PTH112
                path = f"{tmp}/.worker-{os.getpid()}-{stream}-{time.monotonic_ns()}.log"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self.scratch[stream] = (fd, path)
            try:
                fd, path = self.scratch[stream]
                os.rename(path, f"{attempt}/{stream}.log")
            except (OSError, KeyError):  # no scratch folder, or it was cleaned: a plain file
                if stream in self.scratch:
                    os.close(self.scratch.pop(stream)[0])
                path = f"{attempt}/{stream}.log"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self.scratch[stream] = (fd, path)
            fds.append(fd)
        return fds[0], fds[1]

    def detach(self, attempt: str) -> bool:
        """Give empty logs back to the scratch pool; True if anything was logged."""
        wrote = False
        for stream in ("stdout", "stderr"):
            fd, path = self.scratch[stream]
            if os.fstat(fd).st_size == 0:
                try:
                    os.rename(f"{attempt}/{stream}.log", path)
                    continue
                except OSError:
                    pass
            wrote = wrote or os.fstat(fd).st_size > 0
            os.close(fd)
            del self.scratch[stream]
        return wrote


_LOGS = LogFiles()


RunJob = Callable[[Job, int], tuple[Outcome, dict[str, Any], bool]]


def run_claimed(job: Job, claim: Claim | None, msg_fd: int,
                me: dict[str, Any], run: RunJob | None = None) -> None:
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
    spec = claim.get("spec") if claim else None
    worktree = wants_worktree(spec, job.agent)
    if run is None or worktree:  # a git worktree lives beside the home: it runs here
        outcome, usage, logs = run_job(job, msg_fd, worktree)
    else:
        outcome, usage, logs = run(job, msg_fd)
    killpoints.reached("worker.ran")
    end_strays()
    finished = time.time()
    # A failure on a full disk may be the disk's: wait for space, and say so (not counted).
    environment = None if outcome.ok else wait_for_space(
        job.attempt_dir, notify=lambda: send(msg_fd, WaitingForSpace()))
    accepted = False
    if claim is not None and nonce is not None:
        accepted = _record(job, claim, outcome, started, finished)
        claims.release_task(_task_dir(job), nonce, check=False, into=job.attempt_dir)
    send(msg_fd, Done(
        ok=outcome.ok, reason=outcome_reason(outcome), error=outcome.error,
        result=outcome.result, exit_code=outcome.exit_code, signal=outcome.signal,
        usage=usage, logs=logs, accepted=accepted, started=started, finished=finished,
        environment=environment or None))


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


def _claim(job: Job, claim: Claim, me: dict[str, Any], msg_fd: int) -> str | None:
    """mkdir the attempt folder and the task lock (and spec.json once); the nonce."""
    task_dir = _task_dir(job)
    # Explicit mkdirs: Path.mkdir(parents=True) costs twice the syscalls on a first attempt.
    # Through fsio.persist: on a full disk (a real one refuses mkdir) the worker waits.
    for parent in (task_dir, f"{task_dir}/attempts"):
        with contextlib.suppress(FileExistsError):
            fsio.persist(partial(os.mkdir, parent), parent)
    try:
        fsio.persist(partial(os.mkdir, job.attempt_dir), job.attempt_dir)
    except FileExistsError:
        send(msg_fd, Done(ok=False, claim_failed="attempt_exists"))
        return None
    # owner.json names this worker's slot: while the lock exists the task is running, so
    # no state.json is written on the way in (nor on success: result.json says it).
    nonce = claims.claim_task(task_dir, {**me, "slot": claim["slot"]}, job.attempt)
    if nonce is None:
        send(msg_fd, Done(ok=False, claim_failed="locked"))
        return None
    if claim.get("spec") and not os.path.exists(f"{task_dir}/spec.json"):  # noqa: PTH110
        taskfiles.write_json_fast(f"{task_dir}/spec.json", claim["spec"])
    return nonce


def _task_dir(job: Job) -> str:
    return f"{job.mission_dir}/tasks/{job.task_id}"


def _record(job: Job, claim: Claim, outcome: Outcome, started: float,
            finished: float) -> bool:
    """exit.json, and on success the accepted result; True if accepted."""
    taskfiles.write_json_fast(f"{job.attempt_dir}/exit.json", {
        "code": outcome.exit_code, "signal": outcome.signal,
        "reason": outcome_reason(outcome), "started": _iso(started),
        "finished": _iso(finished), "duration": round(finished - started, 6),
        "error": outcome.error})
    killpoints.reached("worker.recorded")
    if not (outcome.ok and claim.get("accept")):
        return False
    taskfiles.accept_result(job.mission_dir, job.task_id, outcome.result or {},
                            job.attempt_dir)
    return True


def outcome_reason(outcome: Outcome) -> str:
    """An agent killed by a signal crashed; a non-zero exit or an exception failed.

    The engine overrides this when it sent the signal (timeout, cancel, budget stop)."""
    if outcome.ok:
        return ExitReason.SUCCEEDED
    return ExitReason.CRASHED if outcome.signal else ExitReason.FAILED


def _iso(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))


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
    me = my_identity().to_dict()
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
