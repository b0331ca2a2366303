"""The Ray executor beside the local pool: no-op and one-second python tasks.

    python bench/ray.py [--tasks 1000] [--sleep-tasks 200] [--workers 4]

Starts a three-node Ray cluster on loopback (a head without CPUs and two worker nodes of
--workers/2 CPUs each; tests/helpers/ray_cluster.py), then runs, side by side in one run: N no-op
python tasks and M tasks that sleep one second, first with the local warm pool, then with
`--executor ray`, both with --workers slots. Each time runs from submitting the mission to
its end, the engine's start (and, for Ray, every slot joining the cluster) included.
The table gives tasks/s and the Ray/local ratio. Beside them, in the same run, the same
tasks as bare Ray tasks (one driver, --workers threads each submitting a task and waiting
for it, as the slots do; the driver's start included): what Ray itself costs, so the gap
between that column and `--executor ray` is Houston's. The cluster is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import bench_home, submit_tasks, table, temp_dir

sys.path.insert(0, str(_common.REPO / "tests"))
from helpers import ray_cluster

from houston.engine.engine import Engine, EngineOptions
from houston.engine.executors import parse_executor


def run(lines: list[str], workers: int, executor: str) -> float:
    with temp_dir(f"hb-ray-{executor}-") as root:
        home = bench_home(root)
        start = time.perf_counter()
        ref = submit_tasks(home, "bench", lines)
        options = EngineOptions(
            workers=workers, missions={ref.id}, executor=parse_executor(executor)
        )
        finished = Engine(home, options).run()
        elapsed = time.perf_counter() - start
    if finished[ref.id][0].value != "succeeded":
        raise SystemExit(f"{executor} bench mission failed: {finished}")
    return elapsed


# Run in a child with its own cwd: this file is called ray.py and would shadow the package.
BARE = """
import sys, threading, time
start = time.perf_counter()
import ray
ray.init(address=sys.argv[1], log_to_driver=False)
tasks, workers, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
@ray.remote(max_retries=0)
def task(seconds):
    if seconds:
        time.sleep(seconds)
    return {}
def slot(count):
    for _ in range(count):
        ray.get(task.remote(seconds))
threads = [threading.Thread(target=slot, args=(tasks // workers + (i < tasks % workers),))
           for i in range(workers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(time.perf_counter() - start)
"""


def bare(address: str, tasks: int, workers: int, seconds: float) -> float:
    """Seconds for `tasks` bare Ray tasks, `workers` in flight at a time."""
    with temp_dir("hb-ray-bare-") as cwd:
        done = subprocess.run(
            [sys.executable, "-c", BARE, address, str(tasks), str(workers), str(seconds)],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--sleep-tasks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    noop = [f"  - {{id: t{i:05d}, agent: bench/noop}}" for i in range(args.tasks)]
    sleep = [
        f"  - {{id: s{i:05d}, agent: bench/sleep, inputs: {{seconds: 1}}}}"
        for i in range(args.sleep_tasks)
    ]
    state = Path(tempfile.mkdtemp(prefix="houston-bench-ray-"))
    started = time.perf_counter()
    info = ray_cluster.start(state, nodes=2, cpus=max(1, args.workers // 2))
    print(f"cluster of 3 nodes up in {time.perf_counter() - started:.1f} s", flush=True)
    os.environ.update(ray_cluster.LOOPBACK_ENV)
    os.environ["RAY_ADDRESS"] = str(info["address"])
    rows = []
    try:
        for label, lines, seconds in (
            (f"{args.tasks} no-op python tasks", noop, 0.0),
            (f"{args.sleep_tasks} one-second python tasks", sleep, 1.0),
        ):
            local = run(lines, args.workers, "local")
            remote = run(lines, args.workers, "ray")
            ray_only = bare(str(info["address"]), len(lines), args.workers, seconds)
            rows.append(
                [
                    label,
                    rate(len(lines), local),
                    rate(len(lines), remote),
                    f"{local / remote:.2f}x",
                    rate(len(lines), ray_only),
                    f"{ray_only / remote:.2f}x",
                ]
            )
            print(rows[-1], flush=True)
    finally:
        ray_cluster.stop(state)
    print(f"\n{args.workers} slots each; Ray: head + 2 worker nodes on loopback\n")
    print(
        table(
            [
                "tasks",
                "local pool",
                "--executor ray",
                "ray / local",
                "bare Ray tasks",
                "houston on ray / bare ray",
            ],
            rows,
        )
    )


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.1f}/s ({seconds:.1f} s)"


if __name__ == "__main__":
    main()
