"""Job functions for the RQ and Huey workers of the benchmarks (importable by name)."""

from __future__ import annotations

import os
import time
from typing import Any


def noop() -> int:
    return 1


def marked_sleep(marker: str, seconds: float) -> int:
    """Record one run in `marker`, then sleep (a job that is killed mid-way)."""
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return 1


def huey_app(filename: str) -> tuple[Any, Any]:
    """The Huey app (for `huey_consumer bench_jobs.HUEY`) and its marked_sleep task."""
    from huey import SqliteHuey

    huey = SqliteHuey(filename=filename)
    return huey, huey.task(name="marked_sleep")(marked_sleep)


HUEY = huey_app(os.environ["BENCH_HUEY_DB"])[0] if os.environ.get("BENCH_HUEY_DB") else None
