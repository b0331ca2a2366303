"""A cancel of a Ray task stops the Bash command its llm attempt is running (the `sleep`
of test_ray_llm's budget stop outlived its attempt). Ray's plain cancel is
`_thread.interrupt_main` in the task's Ray worker, which starts with SIGINT ignored: it
did nothing until the attempt ran under `ray_task.cancellable`. Then it is a
KeyboardInterrupt raised wherever the main thread is: landing just after the fork it
must not lose the child, and the tool must not wait for its command in one long
select(), during which it is not raised at all."""

from __future__ import annotations

import _thread
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import wait_for
from helpers.procs import alive

from houston.engine.ray_task import cancellable, end_groups
from houston.runners.tools import ToolBox

pytestmark = pytest.mark.process


class Registry:
    """The part of an attempt's context the Bash tool uses: its folder, and the
    processes it registers (a Ray node kills their groups when the attempt ends)."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        self.procs.append(proc)


def test_a_cancel_as_the_command_starts_still_leaves_it_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen_then_cancel(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = real_popen(*args, **kwargs)
        started.append(proc)
        _thread.interrupt_main()  # the cancel arrives as the child has just started
        return proc

    monkeypatch.setattr("houston.runners.tools.subprocess.Popen", popen_then_cancel)
    ctx = Registry(tmp_path)
    box = ToolBox(ctx, ["Bash"])  # type: ignore[arg-type]
    # As on a Ray node: the attempt runs under cancellable(), whatever SIGINT was when this
    # process started (a shell starts a background job with it ignored).
    before = signal.getsignal(signal.SIGINT)
    try:
        with cancellable(), pytest.raises(KeyboardInterrupt):  # not lost, only held
            box.call("Bash", {"command": "sleep 30"})
        assert [p.pid for p in ctx.procs] == [p.pid for p in started]  # known: stoppable
        end_groups([p.pid for p in ctx.procs])  # what the node does when the attempt ends
        (proc,) = started
        assert proc.wait(timeout=60) == -signal.SIGKILL
        wait_for(lambda: not alive(proc.pid), what="the command to be gone")
        assert signal.getsignal(signal.SIGINT) is before  # put back
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def test_a_cancel_while_the_command_runs_stops_it_then(tmp_path: Path) -> None:
    done = tmp_path / "done"
    ctx = Registry(tmp_path)
    box = ToolBox(ctx, ["Bash"])  # type: ignore[arg-type]
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a Ray worker
    cancel = threading.Timer(0.5, _thread.interrupt_main)  # as Ray's plain cancel arrives
    try:
        _thread.interrupt_main()  # ignored: why the attempt runs under cancellable()
        with cancellable(), pytest.raises(KeyboardInterrupt):
            cancel.start()
            box.call("Bash", {"command": f"sleep 30; touch {done}", "timeout": 120_000})
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the worker's, put back
        # Raised while the command ran, not once it had ended (it would have made `done`).
        (proc,) = ctx.procs
        assert proc.wait(timeout=60) == -signal.SIGKILL  # its group was killed at once
        assert not done.exists()
    finally:
        signal.signal(signal.SIGINT, original)
        cancel.cancel()
        for proc in ctx.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
