"""What an engine is asked to do: its options, and the observer of its events."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from houston.engine.executors import LOCAL, Executor

# Called with every event the engine emits: type, mission, task, attempt, data.
Observer = Callable[[str, str | None, str | None, int | None, dict[str, Any]], None]


@dataclass
class EngineOptions:
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    missions: set[str] | None = None  # claim only these (`houston run`); None = all
    until_idle: bool = False  # return when nothing is left to claim or run
    backoff_base: float = 0.5  # seconds before a failed task is requeued (doubling each time)
    crash_cap: int = 3
    grace: float = 2.0
    reconcile_every: float = 2.0
    sweep_every: float = 5.0
    sample_every: float = 1.0
    on_stop: str = "requeue"  # what a stop request does to running missions: requeue|cancel
    # Pipelining (houston.engine.pipelining): a task is queued behind a running one only if
    # its agent's recent attempts, and the one in front so far, took under `quick_below` s.
    quick_below: float = 0.05
    retract_after: float = 0.2  # a job queued behind a running one waits this long at most
    executor: Executor = LOCAL  # where attempts execute (houston.engine.executors)
    llm_concurrency: int = 32  # llm attempts at once in the network worker (no CPU slot)
