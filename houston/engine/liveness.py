"""Process identity and liveness: a process is its pid AND its start token.

The start token is the process start time in clock ticks since boot, read from
`/proc/<pid>/stat` (field 22), joined with the boot id: it never moves when the wall
clock is stepped, and a reused pid gets a different token. Where /proc is missing we
fall back to psutil's `create_time` rounded to whole seconds (stepping the clock may move
it). A zombie is dead; a process we may not inspect
(AccessDenied) is alive. Time is never used to decide that an owner is dead.
Stopping the processes themselves (groups, trees, environment marks) is
houston.runners.processes: the runners use it too.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from houston.home.records import LiveProcess, ProcessRecord
from houston.runners.processes import (
    kill_by_environment,
    signal_group,
    snapshot_tree,
    wait_stopped,
)


@lru_cache(maxsize=1)
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        import psutil

        return f"boot-{int(psutil.boot_time())}"


def _proc_start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    # fields[0] is state (field 3); starttime is field 22 -> index 19.
    if len(fields) < 20:
        return None
    return fields[19].decode()


def start_token(pid: int) -> str | None:
    """The start token of `pid`, or None if there is no such process."""
    ticks = _proc_start_ticks(pid)
    if ticks is not None:
        return f"{boot_id()}:{ticks}"
    if Path("/proc/self/stat").exists():
        return None
    import psutil  # only without /proc: a warm worker starts without it (tens of ms)

    try:
        return f"ct:{round(psutil.Process(pid).create_time())}"
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return "denied"


def hostname() -> str:
    """This machine's name, as socket.gethostname() says it (both read the kernel's
    nodename), without importing socket: every worker asks it at start."""
    return os.uname().nodename


def identity_of(pid: int) -> ProcessRecord | None:
    token = start_token(pid)
    if token is None:
        return None
    return ProcessRecord(pid, token, hostname(), boot_id())


def my_identity() -> ProcessRecord:
    ident = identity_of(os.getpid())
    assert ident is not None
    return ident


def is_alive(record: LiveProcess | Mapping[str, Any] | None) -> bool:
    """True if the process a record names (pid + start_token [+ host, boot_id]) still runs.

    A record from another host cannot be checked here: it counts as alive so that we never
    steal work from a machine we cannot see.
    """
    process = ProcessRecord.parse(record) if isinstance(record, Mapping) else record
    if process is None:
        return False
    pid, token = process.pid, str(process.start_token)
    if process.host not in (None, hostname()):
        return True
    if process.boot_id not in (None, boot_id()):
        return False
    current = start_token(pid)
    if current is None or (current != token and current != "denied"):
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def stop_agent(record: LiveProcess, grace: float = 2.0) -> bool:
    """Stop a recorded agent and its whole group: SIGTERM, grace, SIGKILL. Blocking.

    Only acts if the record still names a live process (pid + start token), so a reused
    pid is never signalled. Returns True if something was stopped.
    """
    import psutil

    if not is_alive(record):
        return False
    pid = record.pid
    tree = snapshot_tree(pid)
    signal_group(pid, signal.SIGTERM)
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    signal_group(pid, signal.SIGKILL)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    wait_stopped(tree, max(grace, 1.0))
    return True


WORKER_MARK = "HOUSTON_WORKER_MARK"


def engine_mark(engine: LiveProcess) -> str:
    """The prefix of the marks of every worker an engine (pid + start token) spawned."""
    return f"{engine.pid}:{engine.start_token}/"


def kill_marked_processes(prefix: str, timeout: float = 1.0) -> int:
    """SIGKILL every process whose HOUSTON_WORKER_MARK starts with `prefix` (a dead
    worker's mark, or a dead engine's prefix) and wait until each is gone or a zombie.

    Every process a worker starts inherits its mark, even a child forked but not yet
    exec'd, which has no HOUSTON_WORK_DIR yet and no agent.json names. How many."""
    return kill_by_environment(WORKER_MARK, lambda mark: mark.startswith(prefix), timeout)
