"""What the engine and its workers do when the machine refuses a write.

Disk full, read-only filesystem, permission denied: none of these is a task's fault, and
the work must not be lost to them. Both are installed as the fsio fault waiter of the
thread that drives them (houston.home.fsio.persist):

- the engine's `EnginePause` blocks its loop on the failed write, so nothing more is
  claimed or dispatched and no record is dropped; it emits `engine.state` `paused` (with
  the error, the path and the fix) once, tries the write again after a back-off, and emits
  `resumed` when it goes through. A forced stop (a second Ctrl-C or SIGTERM) during a pause
  gives up with an EnvironmentFault (exit 3);
- a worker's `WorkerPause` sleeps and tries again; it never gives up on its own (it dies
  with its engine, and the engine may kill it).

Events emitted during a pause stay in the engine's memory and are appended once the log
can be written again.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from houston.core.errors import EnvironmentFault, environment_fault

FIRST_DELAY = 0.25
MAX_DELAY = 5.0


def pause_delay(tries: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait before try number `tries + 1`: doubling, capped."""
    return float(min(cap, first * 2 ** max(0, min(tries - 1, 16))))


def describe(error: OSError) -> dict[str, Any]:
    """The event data of a fault: what, where, what to do."""
    fault = environment_fault(error)
    if fault is None:
        return {"error": str(error), "path": error.filename, "fix": ""}
    return {"error": fault.what, "path": fault.where, "fix": fault.fix}


class EnginePause:
    def __init__(
        self,
        emit: Callable[[dict[str, Any]], None],
        nap: Callable[[float], None],
        give_up: Callable[[], bool],
    ) -> None:
        self.emit = emit
        self.nap = nap  # sleeps, but wakes early on a signal (the engine's wake-up pipe)
        self.give_up = give_up
        self.since: float | None = None

    def wait(self, error: OSError, tries: int) -> None:
        delay = pause_delay(tries)
        if self.since is None:
            self.since = time.monotonic()
            self.emit({"state": "paused", **describe(error), "retry_in": delay})
        if self.give_up():
            fault = environment_fault(error) or EnvironmentFault(str(error))
            raise fault from error
        self.nap(delay)

    def cleared(self) -> None:
        if self.since is not None:
            paused_for = round(time.monotonic() - self.since, 3)
            self.since = None
            self.emit({"state": "resumed", "paused_for": paused_for})


class WorkerPause:
    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def wait(self, error: OSError, tries: int) -> None:
        self.sleep(pause_delay(tries))

    def cleared(self) -> None:
        return None


SPACE_FLOOR = 256 * 1024  # less free space than this, and a failed agent may be the disk's


def free_bytes(path: str) -> int:
    """Free space where `path` is, as this user may use it (root may use reserved blocks,
    but not the clusters ext4 keeps back even from root, which statvfs counts free)."""
    stat = os.statvfs(path)
    if os.geteuid() != 0:
        return stat.f_bavail * stat.f_frsize
    return max(0, stat.f_bfree - ext4_reserved_clusters(path)) * stat.f_frsize


def ext4_reserved_clusters(path: str) -> int:
    """ext4's reserved_clusters for the device `path` is on (0 on other filesystems). A
    cluster is a block unless the disk uses bigalloc, which this ignores (rare)."""
    try:
        dev = os.stat(path).st_dev
        name = os.path.basename(  # noqa: PTH119 - /sys/dev/block/M:m links to .../<name>
            os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
        )
        with open(f"/sys/fs/ext4/{name}/reserved_clusters") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


WAITING_MARK = "waiting-for-space"  # an empty file in the attempt folder while it waits


def wait_for_space(
    path: str,
    sleep: Callable[[float], None] = time.sleep,
    free: Callable[[str], int] = free_bytes,
    notify: Callable[[], None] = lambda: None,
) -> str | None:
    """After an agent failed: if its disk is full, wait until it is not and return why the
    attempt should not count (the failure may be the disk's); None if there was space.
    `notify` is called once, when the wait begins."""
    try:
        if free(path) >= SPACE_FLOOR:
            return None
    except OSError:
        return None
    notify()
    mark = f"{path}/{WAITING_MARK}"
    with contextlib.suppress(OSError):  # an empty file needs no space, only an inode
        os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, 0o644))
    for tries in range(1, 1_000_000):  # ends with the engine (PDEATHSIG) if never freed
        sleep(pause_delay(tries))
        with contextlib.suppress(OSError):
            if free(path) >= SPACE_FLOOR:
                break
    with contextlib.suppress(OSError):
        os.unlink(mark)  # noqa: PTH108 - str paths like the worker that calls it
    return "no space left on device while it ran"


def pause_message(data: dict[str, Any]) -> str | None:
    """The line `houston run`/`serve` print for a pause event, or None for other states."""
    state = data.get("state")
    if state == "paused":
        where = f"{data.get('path')}: " if data.get("path") else ""
        return (
            f"paused: {where}{data.get('error')}; nothing is lost, retrying "
            f"(hint: {data.get('fix')})"
        )
    if state == "resumed":
        return f"resumed after {data.get('paused_for')}s"
    if state == "waiting_for_space":
        return (
            f"worker {data.get('slot')} waits for disk space: its agent failed on a full "
            f"disk and will run again (free some space)"
        )
    return None
