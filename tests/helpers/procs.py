"""Whether a process still runs, asked without a race against its death."""

from __future__ import annotations

import psutil


def running(proc: psutil.Process) -> bool:
    """Running and not a zombie. A process may end between any two questions put to it,
    so its vanishing is an answer, never an error."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive(pid: int) -> bool:
    """The process `pid` runs and is not a zombie (a killed orphan may wait for its reaper)."""
    try:
        return running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False
