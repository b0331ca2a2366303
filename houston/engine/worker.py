"""A warm worker process: reads jobs (JSON lines) on stdin, runs them, reports on fd 1.

Started by the pool as `python -m houston.engine.worker`; it imports the runners once and
then runs attempt after attempt, so python agents pay no interpreter start-up per task.
The protocol fd is moved away from fd 1 at start; during a job fds 1 and 2 point at the
attempt's stdout.log and stderr.log. Messages to the engine, one JSON line each:
`ready`, `agent` (a child process was started: pid + start token), `usage` (a delta),
`done` (ok, error, exit_code, signal, usage). The worker never handles signals: the engine
stops it (or its agent's process group) from outside. It dies with its engine
(PR_SET_PDEATHSIG) and also exits when stdin closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from houston import fsio
from houston.engine.blackboard import Blackboard
from houston.engine.liveness import identity_of
from houston.engine.taskfiles import write_json_fast
from houston.errors import HoustonError
from houston.runners import Job, Outcome, get_runner

_PR_SET_PDEATHSIG = 1


class WorkerContext:
    """The `AgentContext` given to runners and python agents."""

    def __init__(self, job: Job, msg_fd: int) -> None:
        self.job = job
        self.inputs = job.inputs
        self.prompt = job.prompt
        self.mission_id = job.mission_id
        self.task_id = job.task_id
        self.attempt = job.attempt
        self.work_dir = Path(job.attempt_dir)
        self.mission_dir = Path(job.mission_dir)
        self.outputs_dir = self.mission_dir / "outputs"
        self.package_dir = Path(job.package_dir)
        self.blackboard = Blackboard(self.mission_dir, mission_id=job.mission_id,
                                     task_id=job.task_id, events=_event_log(self.mission_dir))
        self.tokens = 0
        self.cost = 0.0
        self._msg_fd = msg_fd

    def report_usage(self, tokens: int = 0, cost: float = 0.0) -> None:
        self.tokens += int(tokens)
        self.cost = round(self.cost + float(cost), 10)
        send(self._msg_fd, {"type": "usage", "tokens": int(tokens), "cost": float(cost)})

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        ident = identity_of(proc.pid)
        record = ident.to_dict() if ident else {"pid": proc.pid, "start_token": None}
        fsio.write_json_atomic(self.work_dir / "agent.json", record, durable=False)
        send(self._msg_fd, {"type": "agent", **record})


def _event_log(mission_dir: Path) -> Any:
    # <home>/missions/<STATE>/<id> -> <home>/events
    from houston.events import EventLog

    return EventLog(mission_dir.parent.parent.parent / "events")


def send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def run_job(job: Job, msg_fd: int) -> None:
    ctx = WorkerContext(job, msg_fd)
    attempt = Path(job.attempt_dir)
    out = os.open(attempt / "stdout.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err = os.open(attempt / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        outcome = get_runner(job.runner).run(job, ctx)
    except HoustonError as exc:
        outcome = Outcome(ok=False, error=str(exc))
        print(str(exc), file=sys.stderr)
    except BaseException as exc:  # an agent may raise anything, SystemExit included
        traceback.print_exc()
        outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(_DEVNULL, 1)
        os.dup2(_LOGFD, 2)
    usage = {"tokens": ctx.tokens, "cost": ctx.cost}
    write_json_fast(attempt / "usage.json", usage)
    if outcome.ok:
        write_json_fast(attempt / "result.json", outcome.result or {})
    logs = os.fstat(out).st_size + os.fstat(err).st_size > 0
    os.close(out)
    os.close(err)
    send(msg_fd, {
        "type": "done", "ok": outcome.ok, "error": outcome.error, "result": outcome.result,
        "exit_code": outcome.exit_code, "signal": outcome.signal, "usage": usage, "logs": logs,
    })


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the engine died before prctl took effect
        os._exit(0)


_DEVNULL = -1
_LOGFD = -1


def main() -> None:
    global _DEVNULL, _LOGFD
    _die_with_parent()
    msg_fd = os.dup(1)
    _DEVNULL = os.open(os.devnull, os.O_RDWR)
    _LOGFD = os.dup(2)
    os.dup2(_DEVNULL, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the engine
    send(msg_fd, {"type": "ready", "pid": os.getpid()})
    stdin = sys.stdin.buffer
    for line in stdin:
        try:
            job = Job.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            send(msg_fd, {"type": "done", "ok": False, "error": f"bad job: {exc}"})
            continue
        run_job(job, msg_fd)


if __name__ == "__main__":
    main()
