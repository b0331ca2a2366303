"""Where attempts execute: the executor chosen by `houston run|serve --executor`.

An executor is the program each worker slot of the pool runs; every one speaks the same
protocol with the engine (houston.engine.worker), so claims, results, usage, budgets, logs
and events stay the engine's, on this machine, whatever the executor.

- `local` (default): warm worker processes run attempts here.
- `ray`: each slot is a Ray driver (houston.engine.ray_worker) that runs its attempts as
  Ray tasks on the cluster `ray.init()` joins (`RAY_ADDRESS`, or a new local one); the
  network worker's llm attempts too (houston.engine.ray_io_worker).
- `ray://HOST:PORT`: the same through a Ray Client address.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from houston.core.errors import UsageError

EXECUTORS = ("local", "ray", "ray://HOST:PORT")


@dataclass(frozen=True)
class Executor:
    name: str  # local | ray
    module: str  # what `python -m` runs in each slot
    env: dict[str, str] = field(default_factory=dict)  # added to each slot's environment
    io_module: str = "houston.engine.io_worker"  # ... in the network worker's slot


LOCAL = Executor("local", "houston.engine.worker")
RAY = Executor("ray", "houston.engine.ray_worker", io_module="houston.engine.ray_io_worker")


def parse_executor(text: str) -> Executor:
    """Pure: the executor a `--executor` value names; UsageError for anything else."""
    value = text.strip()
    if value in ("", "local"):
        return LOCAL
    if value == "ray":
        return RAY
    if value.startswith("ray://") and len(value) > len("ray://"):
        return replace(RAY, env={"HOUSTON_RAY_ADDRESS": value})
    raise UsageError(f"unknown executor {text!r}", fix=f"use one of: {', '.join(EXECUTORS)}")
