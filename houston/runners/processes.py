"""Stopping an agent's processes: its process group, its tree, and whatever still carries
its environment marks. Shared by the runners (an agent that leaves tools behind) and the
engine's worker and recovery (an attempt or a worker that died), so it sits below both.

Whose process it is (pid + start token) is the engine's question: houston.engine.liveness.
psutil is imported where a process is looked at: a warm worker imports this module (through
liveness) and starts faster without it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold back KeyboardInterrupt in the main thread while a child is started and
    registered, and raise it after. Ray's plain cancel of a task is one
    (`_thread.interrupt_main`): landing inside Popen after the fork, or before the
    child is registered, it would leave the child running with nothing left to stop it
    (the Ray worker lives on). Elsewhere (other threads, no Python handler) a no-op."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            previous(signal.SIGINT, None)  # default_int_handler: raises KeyboardInterrupt


def signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the process group led by `pid`; False if it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def snapshot_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants now (they reparent away once the parent dies)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def is_running(proc: psutil.Process) -> bool:
    """Running and not a zombie (a zombie is dead, awaiting its reaper)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_stopped(procs: list[psutil.Process], timeout: float) -> None:
    """Wait until each process is gone or a zombie, at most `timeout` seconds: they are
    not our children, so there is nothing to reap."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_running(p) for p in procs):
        time.sleep(0.005)


def kill_by_environment(variable: str, matches: Callable[[str], bool], timeout: float) -> int:
    """SIGKILL every other process whose environment `variable` is set and `matches`, and
    wait until each is gone or a zombie. Reads every process's environment, so it is kept
    for rare paths. Returns how many it killed."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            value = proc.environ().get(variable)
            if proc.pid != os.getpid() and value is not None and matches(value):
                proc.kill()
                found.append(proc)
    wait_stopped(found, timeout)
    return len(found)


def kill_attempt_processes(work_dir: str, timeout: float = 1.0) -> int:
    """SIGKILL every process whose environment says it works for this attempt
    (HOUSTON_WORK_DIR, set by the command runner) and wait until each is gone or a zombie.

    The fallback for a worker that died between starting its agent and recording it:
    the agent (its own session) outlived it and no record names it. Returns how many it
    killed."""
    return kill_by_environment("HOUSTON_WORK_DIR", lambda value: value == work_dir, timeout)
