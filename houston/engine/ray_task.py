"""What runs on a Ray node for one attempt (the body of the Ray task).

The node has no home: the attempt runs in a scratch folder of the node (its `work_dir`),
with the agent's package unpacked from the bytes the driver shipped (cached per digest
on the node), stdout and stderr captured in files there. What the attempt reads of its
mission (its inputs with `{{ tasks.* }}` filled, its needs' results, the mission context)
is read on the engine host and shipped with the job (`view`). Everything the engine
records comes back in the returned dict: ok, result, error, exit code, signal, usage,
both logs and the events the agent emitted. The scratch folder is emptied afterwards.
While it runs, each usage report is also posted to the driver's `ProgressBox` (a Ray
actor beside the driver) so that budgets are checked as the spend happens.
`mission_dir`, `outputs_dir` and the blackboard are the engine host's paths: they work
only where the home is on a shared filesystem (agents that need them can stay local:
houston.engine.ray_worker.LOCAL_AGENTS).

Imported on the nodes: it must not import ray (the task is wrapped by the driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston.core.errors import HoustonError
from houston.home import attemptfiles
from houston.runners import Job, Outcome, get_runner
from houston.runners.context import JobContext

if TYPE_CHECKING:
    import subprocess

    from houston.home.blackboard import Blackboard

LOG_CAP = 8 << 20  # bytes of each log sent back; the rest is cut (and said so)


class ProgressBox:
    """A mailbox for what running attempts report before they end (run as an async Ray
    actor by the driver; the nodes `post`, the driver's one reading thread `take`s)."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._posted: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._posted is None:  # made inside the actor's own event loop
            self._posted = asyncio.Event()
        return self._posted

    async def post(self, item: dict[str, Any]) -> None:
        self._items.append(item)
        self._event().set()

    async def take(self, wait: float) -> list[dict[str, Any]]:
        """Everything posted so far; waits up to `wait` seconds for the first item."""
        if not self._items:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event().wait(), wait)
        items, self._items = self._items, []
        self._event().clear()
        return items


class RemoteContext(JobContext):
    """The AgentContext of an attempt on a Ray node (see houston.runners)."""

    def __init__(
        self, job: Job, work_dir: Path, box: str | None = None, view: dict[str, Any] | None = None
    ) -> None:
        super().__init__(job)
        self._work_dir = work_dir
        self._box = box  # the name of the driver's ProgressBox actor, or None
        self.events: list[dict[str, Any]] = []  # emitted here, recorded by the driver
        self.groups: list[int] = []  # process groups its runner started
        if view is not None:  # read on the engine host: the node may not see the home
            self.inputs = job.inputs = view["inputs"]
            self.__dict__["needs"] = view["needs"]
            self.__dict__["mission_context"] = view["context"]

    @property
    def work_dir(self) -> Path:  # the node's scratch folder
        return self._work_dir

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        self.events.append({"type": type_, "data": data})

    @cached_property
    def blackboard(self) -> Blackboard:
        from houston.home.blackboard import Blackboard

        return Blackboard(self.mission_dir, mission_id=self.mission_id, task_id=self.task_id)

    def tell_usage(self, tokens: int, cost: float) -> None:
        # The totals come back with the outcome; an llm attempt's deltas also go to the
        # driver at once (`box`).
        if self._box is not None:
            box_named(self._box).post.remote(
                {
                    "key": [self.mission_id, self.task_id, self.attempt],
                    "tokens": tokens,
                    "cost": cost,
                }
            )

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        # Its group is killed when the attempt ends here (a cancel interrupts the task
        # first: houston.engine.ray_io_worker). If the Ray worker itself is killed, Ray's
        # raylet subreaper (RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper)
        # is what kills its children.
        self.groups.append(proc.pid)


_BOXES: dict[str, Any] = {}  # ProgressBox handles by name, looked up once per Ray worker
_WORK: list[Path] = []  # this Ray worker's scratch folder, reused by its attempts


def box_named(name: str) -> Any:
    """The driver's ProgressBox: passed by name, so that a task that reports nothing pays
    nothing for it (an actor handle as an argument costs every task about 2 ms here)."""
    if name not in _BOXES:
        import ray

        _BOXES[name] = ray.get_actor(name, namespace="houston")
    return _BOXES[name]


def work_folder() -> Path:
    """The scratch folder of this Ray worker process: one attempt runs in a Ray worker at a
    time, and removing a folder (rmdir) cost ~3 ms of the ~4 ms a no-op attempt took here,
    so it is emptied after each attempt rather than made and removed."""
    if not _WORK or not _WORK[0].is_dir():
        _WORK[:] = [Path(tempfile.mkdtemp(prefix=f"houston-work-{os.getpid()}-"))]
    return _WORK[0]


def empty_folder(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


def end_groups(groups: list[int]) -> None:
    """SIGKILL the process groups the attempt's runner started (each its own session)."""
    for pid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


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


def execute(
    job_data: dict[str, Any],
    digest: str,
    blob: bytes | None,
    view: dict[str, Any] | None = None,
    box: str | None = None,
) -> dict[str, Any]:
    """Run one attempt here; the outcome, usage, logs and events as plain data. `blob` is
    the packed package (`digest` its tree digest), or None for an agent without a folder;
    `view` what it reads of its mission (see the module doc); `box` the name of the
    driver's ProgressBox actor."""
    work = work_folder()
    try:
        if blob is not None:
            job_data = {**job_data, "package_dir": str(unpack_package(blob, digest))}
        job = Job.from_dict({**job_data, "attempt_dir": str(work)})
        ctx = RemoteContext(job, work, box, view)
        try:
            with cancellable():
                outcome = _run_captured(job, ctx, work)
        finally:
            end_groups(ctx.groups)
        return {
            "ok": outcome.ok,
            "result": outcome.result,
            "error": outcome.error,
            "exit_code": outcome.exit_code,
            "signal": outcome.signal,
            "usage": ctx.usage_record().encode(),
            "events": ctx.events,
            "stdout": _read_capped(Path(attemptfiles.log_path(work, "stdout"))),
            "stderr": _read_capped(Path(attemptfiles.log_path(work, "stderr"))),
            "node": os.uname().nodename,
        }
    finally:
        empty_folder(work)


@contextlib.contextmanager
def cancellable() -> Iterator[None]:
    """While the attempt runs, a plain `ray.cancel` raises KeyboardInterrupt in it (its
    runner then stops its tools' process groups). Ray starts its workers with SIGINT
    ignored, and `_thread.interrupt_main`, which is how a plain cancel reaches a running
    task, does nothing then: the attempt and its tools ran on until the Ray worker was
    killed, and a tool's own children outlived that (Ray kills direct children only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if previous is None else previous)


def _run_captured(job: Job, ctx: RemoteContext, work: Path) -> Outcome:
    """The runner with fds 1 and 2 on the attempt's logs, as in a local worker."""
    saved = os.dup(1), os.dup(2)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    out = os.open(attemptfiles.log_path(work, "stdout"), flags, 0o644)
    err = os.open(attemptfiles.log_path(work, "stderr"), flags, 0o644)
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
