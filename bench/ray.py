"""The Ray executor beside the local pool: no-op and one-second python tasks.

    python bench/ray.py [--tasks 1000] [--sleep-tasks 200] [--workers 4]

Starts a three-node Ray cluster on loopback (a head without CPUs and two worker nodes of
--workers/2 CPUs each; tests/ray_cluster.py), then runs, side by side in one run: N no-op
python tasks and M tasks that sleep one second, first with the local warm pool, then with
`--executor ray`, both with --workers slots. Each time runs from submitting the mission to
its end, the engine's start (and, for Ray, every slot joining the cluster) included.
The table gives tasks/s and the Ray/local ratio. The cluster is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import bench_home, submit_tasks, table, temp_dir

sys.path.insert(0, str(_common.REPO / "tests"))
import ray_cluster

from houston.engine.engine import Engine, EngineOptions
from houston.engine.executors import parse_executor


def run(lines: list[str], workers: int, executor: str) -> float:
    with temp_dir(f"hb-ray-{executor}-") as root:
        home = bench_home(root)
        start = time.perf_counter()
        ref = submit_tasks(home, "bench", lines)
        options = EngineOptions(workers=workers, missions={ref.id},
                                executor=parse_executor(executor))
        finished = Engine(home, options).run()
        elapsed = time.perf_counter() - start
    if finished[ref.id][0].value != "succeeded":
        raise SystemExit(f"{executor} bench mission failed: {finished}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--sleep-tasks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    noop = [f"  - {{id: t{i:05d}, agent: bench/noop}}" for i in range(args.tasks)]
    sleep = [f"  - {{id: s{i:05d}, agent: bench/sleep, inputs: {{seconds: 1}}}}"
             for i in range(args.sleep_tasks)]
    state = Path(tempfile.mkdtemp(prefix="houston-bench-ray-"))
    started = time.perf_counter()
    info = ray_cluster.start(state, nodes=2, cpus=max(1, args.workers // 2))
    print(f"cluster of 3 nodes up in {time.perf_counter() - started:.1f} s", flush=True)
    os.environ.update(ray_cluster.LOOPBACK_ENV)
    os.environ["RAY_ADDRESS"] = str(info["address"])
    rows = []
    try:
        for label, lines in ((f"{args.tasks} no-op python tasks", noop),
                             (f"{args.sleep_tasks} one-second python tasks", sleep)):
            local = run(lines, args.workers, "local")
            remote = run(lines, args.workers, "ray")
            rows.append([label, f"{len(lines) / local:,.1f}/s ({local:.1f} s)",
                         f"{len(lines) / remote:,.1f}/s ({remote:.1f} s)",
                         f"{local / remote:.2f}x"])
            print(rows[-1], flush=True)
    finally:
        ray_cluster.stop(state)
    print(f"\n{args.workers} slots each; Ray: head + 2 worker nodes on loopback\n")
    print(table(["tasks", "local pool", "--executor ray", "ray / local"], rows))


if __name__ == "__main__":
    main()
