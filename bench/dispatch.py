"""Dispatch throughput: Houston (python and command tasks) vs Huey (SQLite) and RQ (redis).

    python bench/dispatch.py [--tasks 2000] [--workers 2] [--rq-tasks 500] [--dir DIR]

Every system runs N no-op jobs with 2 workers on this machine, side by side in one run;
the table prints jobs/s and the ratio to Huey. Each time runs from the first enqueue to
the last result, start-up included: for Huey and RQ, enqueueing the jobs and starting the
consumer or workers; for Houston, submitting the mission (validation included) and the
engine's start with its warm workers. A 100-task `needs` chain is timed too. RQ forks a
process per job, so it gets fewer jobs (--rq-tasks). Scratch folders are removed at exit.

Houston keeps every task in files, so its figures follow the disk. On ext4 without a
journal (as on some cloud VMs) the kernel skips inodes freed in the last minutes when it
allocates new ones, and a run right after a big delete near its scratch folder pays for
scanning past them. Scratch folders therefore go to .bench/ in the repo, away from the
system's temp folder that test suites fill and empty; a second run right after a first
still pays for the first one's cleanup (wait a few minutes). --dir /dev/shm compares on
tmpfs, where SQLite's fsyncs cost Huey nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import _common
from _common import (
    bench_env,
    bench_home,
    filesystem_of,
    redis_server,
    submit_tasks,
    table,
    temp_dir,
)

from houston.engine.engine import Engine, EngineOptions


def houston_run(root: Path, lines: list[str], workers: int) -> float:
    home = bench_home(root)
    start = time.perf_counter()
    ref = submit_tasks(home, "bench", lines)
    finished = Engine(home, EngineOptions(workers=workers, missions={ref.id})).run()
    elapsed = time.perf_counter() - start
    if finished[ref.id][0].value != "succeeded":
        raise SystemExit(f"houston bench mission failed: {finished}")
    return elapsed


def houston_python(n: int, workers: int) -> float:
    with temp_dir("hb-py-") as root:
        return houston_run(
            root, [f"  - {{id: t{i:05d}, agent: bench/noop}}" for i in range(n)], workers
        )


def houston_command(n: int, workers: int) -> float:
    lines = [
        f"  - {{id: t{i:05d}, agent: core/shell, inputs: {{argv: ['true']}}}}" for i in range(n)
    ]
    with temp_dir("hb-cmd-") as root:
        return houston_run(root, lines, workers)


def houston_chain(n: int, workers: int) -> float:
    lines = ["  - {id: t00000, agent: bench/noop}"] + [
        f"  - {{id: t{i:05d}, agent: bench/noop, needs: [t{i - 1:05d}]}}" for i in range(1, n)
    ]
    with temp_dir("hb-chain-") as root:
        return houston_run(root, lines, workers)


def huey_run(n: int, workers: int) -> float:
    from huey import SqliteHuey
    from huey.consumer import Consumer

    with temp_dir("hb-huey-") as root:
        huey = SqliteHuey(filename=str(root / "huey.db"))
        task = huey.task()(lambda: 1)
        start = time.perf_counter()
        for _ in range(n):
            task()
        consumer = Consumer(
            huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.01,
            check_worker_health=False,
        )
        consumer.start()
        deadline = time.monotonic() + 600
        while huey.result_count() < n and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        consumer.stop(graceful=True)
        return elapsed


def rq_run(n: int, workers: int) -> float:
    import redis
    from rq import Queue

    with redis_server() as url:
        queue = Queue("bench", connection=redis.Redis.from_url(url))
        start = time.perf_counter()
        for _ in range(n):
            queue.enqueue("bench_jobs.noop")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "rq.cli", "worker", "--burst", "-q", "--url", url, "bench"],
                env=bench_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        try:
            for proc in procs:
                proc.wait(timeout=600)
            return time.perf_counter() - start
        finally:
            for proc in procs:  # never leave a worker behind, even on a timeout
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rq-tasks", type=int, default=500)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--skip", action="append", default=[], help="huey, rq")
    parser.add_argument(
        "--dir",
        default=_common.SCRATCH_PARENT,
        help="make scratch folders here (default: .bench/ in the repo); "
        "every system runs on the same filesystem",
    )
    args = parser.parse_args()
    _common.SCRATCH_PARENT = args.dir
    n, w = args.tasks, args.workers
    results: list[tuple[str, int, float]] = []
    if "huey" not in args.skip:
        results.append(("Huey 2 threads, SQLite (no-op)", n, huey_run(n, w)))
    if "rq" not in args.skip:
        rq_seconds = rq_run(args.rq_tasks, w)
        results.append(("RQ forking workers, redis (no-op)", args.rq_tasks, rq_seconds))
    results.append(("Houston python runner (no-op)", n, houston_python(n, w)))
    results.append(("Houston core/shell `true`", n, houston_command(n, w)))
    chain = houston_chain(args.chain, w)
    huey_rate = next((k / s for name, k, s in results if name.startswith("Huey")), None)
    rows = []
    for name, count, seconds in results:
        rate = count / seconds
        ratio = f"{rate / huey_rate:.2f}x" if huey_rate else "-"
        rows.append([name, count, f"{seconds:.2f}", f"{rate:.0f}", ratio])
    rows.append(
        [
            f"Houston chain of {args.chain} (each needs the previous)",
            args.chain,
            f"{chain:.2f}",
            f"{args.chain / chain:.0f}",
            "-",
        ]
    )
    print(table(["system", "jobs", "seconds", "jobs/s", "vs Huey"], rows))
    print(f"({os.cpu_count()} CPUs; scratch in {args.dir}, {filesystem_of(args.dir)})")


if __name__ == "__main__":
    main()
