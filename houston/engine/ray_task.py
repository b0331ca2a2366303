"""What runs on a Ray node for one attempt (the body of the Ray task).

The node has no home: the attempt runs in a scratch folder of the node (its `work_dir`),
with the agent's package unpacked from the bytes the driver shipped (cached per digest
on the node), stdout and stderr captured in files there. Everything the engine records
comes back in the returned dict: ok, result, error, exit code, signal, usage and both
logs. The scratch folder is removed afterwards. `mission_dir`, `outputs_dir` and the
blackboard are the engine host's paths: they work only where the home is on a shared
filesystem (agents that need them can stay local: houston.engine.ray_worker.LOCAL_AGENTS).

Imported on the nodes: it must not import ray (the task is wrapped by the driver).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import traceback
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston.core.errors import HoustonError
from houston.runners import Job, Outcome, get_runner
from houston.runners.context import JobContext

if TYPE_CHECKING:
    import subprocess

    from houston.engine.blackboard import Blackboard

LOG_CAP = 8 << 20  # bytes of each log sent back; the rest is cut (and said so)


class RemoteContext(JobContext):
    """The AgentContext of an attempt on a Ray node (see houston.runners)."""

    def __init__(self, job: Job, work_dir: Path) -> None:
        super().__init__(job)
        self._work_dir = work_dir

    @property
    def work_dir(self) -> Path:  # the node's scratch folder
        return self._work_dir

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        events = self.mission_dir.parent.parent.parent / "events"
        if events.is_dir():  # a shared home; elsewhere an agent's own events are dropped
            from houston.events import EventLog

            log = EventLog(events)
            try:
                log.append(type_, mission=self.mission_id, task=self.task_id,
                           attempt=self.attempt, data=data)
            finally:
                log.close()

    @cached_property
    def blackboard(self) -> Blackboard:
        from houston.engine.blackboard import Blackboard

        return Blackboard(self.mission_dir, mission_id=self.mission_id, task_id=self.task_id)

    def report_usage(self, tokens: int | None = None, cost: float = 0.0, *,
                     model: str | None = None, input_tokens: int = 0,
                     output_tokens: int = 0) -> None:
        # Sent back with the outcome: budgets see a remote attempt's spend when it ends.
        self.count_usage(tokens, cost, model, input_tokens, output_tokens)

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        # The driver's death kills this Ray worker; Ray's raylet subreaper
        # (RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper) kills its children.
        pass


def unpack_package(blob: bytes, digest: str) -> Path:
    """The package tree for `digest` on this node, unpacked once (atomic rename)."""
    from houston.pkg import archive

    cache = Path(tempfile.gettempdir()) / "houston-ray-packages"
    target = cache / digest
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    try:
        tarball = scratch / "package.tar.gz"
        tarball.write_bytes(blob)
        tree = scratch / "tree"
        tree.mkdir()
        archive.extract_verified(tarball, tree, archive.Limits())
        with contextlib.suppress(OSError):  # another task unpacked it first: keep theirs
            os.rename(tree, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def execute(job_data: dict[str, Any], digest: str, blob: bytes | None) -> dict[str, Any]:
    """Run one attempt here; the outcome, usage and logs as plain data. `blob` is the
    packed package (`digest` its tree digest), or None for an agent without a folder."""
    work = Path(tempfile.mkdtemp(prefix=f"houston-{job_data['task_id']}-"))
    try:
        if blob is not None:
            job_data = {**job_data, "package_dir": str(unpack_package(blob, digest))}
        job = Job.from_dict({**job_data, "attempt_dir": str(work)})
        ctx = RemoteContext(job, work)
        outcome = _run_captured(job, ctx, work)
        return {"ok": outcome.ok, "result": outcome.result, "error": outcome.error,
                "exit_code": outcome.exit_code, "signal": outcome.signal,
                "usage": ctx.usage_record(),
                "stdout": _read_capped(work / "stdout.log"),
                "stderr": _read_capped(work / "stderr.log"), "node": os.uname().nodename}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_captured(job: Job, ctx: RemoteContext, work: Path) -> Outcome:
    """The runner with fds 1 and 2 on the attempt's logs, as in a local worker."""
    saved = os.dup(1), os.dup(2)
    out = os.open(work / "stdout.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err = os.open(work / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        return get_runner(job.runner).run(job, ctx)
    except HoustonError as exc:
        print(str(exc), file=sys.stderr)
        return Outcome(ok=False, error=str(exc))
    except BaseException as exc:  # an agent may raise anything, SystemExit included
        traceback.print_exc()
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, out, err):
            os.close(fd)


def _read_capped(path: Path) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return ""
    with open(path, "rb") as handle:
        data = handle.read(LOG_CAP)
    text = data.decode(errors="replace")
    if size > LOG_CAP:
        text += f"\n[houston: log cut at {LOG_CAP} of {size} bytes on the Ray node]\n"
    return text
