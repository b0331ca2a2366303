"""A multi-node Ray cluster on loopback for tests and bench/ray.py, outside the caller's
process tree.

`python tests/helpers/ray_cluster.py STATE_DIR NODES CPUS` daemonizes (so Ray's many processes are
not the test's children), starts a head with no CPUs plus NODES worker nodes of CPUS each
(ray.cluster_utils.Cluster), writes `STATE_DIR/cluster.json` (address, each worker node's
raylet pid), and shuts the cluster down when `STATE_DIR/stop` appears or its caller dies.
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` keeps every Ray address on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    # A killed Ray worker's agent children (command runner) are killed too.
    "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper": "true",
    # Each Houston slot is its own Ray job: keep idle workers of every job warm instead of
    # killing those above the CPU count (a quick task then paid for a worker's start-up).
    "RAY_num_workers_soft_limit": "32",
}
START_TIMEOUT = 600.0
START_TRIES = 3


def serve(state: Path, nodes: int, caller: int, cpus: int = 1) -> None:
    cluster = None
    try:
        for _ in range(START_TRIES):  # a loaded machine can miss Ray's 30 s node start-up
            cluster, workers = _try_start(nodes, cpus)
            if cluster is not None:
                break
        if cluster is None:
            return
        info = {
            "address": cluster.address,
            "pid": os.getpid(),
            "raylets": [w.all_processes["raylet"][0].process.pid for w in workers],
        }
        (state / "cluster.json.tmp").write_text(json.dumps(info))
        os.replace(state / "cluster.json.tmp", state / "cluster.json")
        while not (state / "stop").exists() and _alive(caller):
            time.sleep(0.2)
    finally:
        if cluster is not None:
            cluster.shutdown()
        _kill_descendants()
        (state / "down").touch()


def _try_start(nodes: int, cpus: int) -> tuple[Any, list[Any]]:
    from ray.cluster_utils import Cluster

    cluster = Cluster()
    try:
        cluster.add_node(num_cpus=0, include_dashboard=False)  # the head: no tasks on it
        workers = [cluster.add_node(num_cpus=cpus) for _ in range(nodes)]
        cluster.wait_for_nodes()
    except Exception:
        traceback.print_exc()
        cluster.shutdown()
        _kill_descendants()
        return None, []
    return cluster, workers


def _kill_descendants() -> None:
    """Whatever a failed or finished start left behind (by pid, children of this process)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(state: Path, nodes: int, cpus: int = 1) -> dict[str, object]:
    """Start the cluster (see the module doc) and wait until it is up; its cluster.json."""
    import subprocess

    state.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, __file__, str(state), str(nodes), str(cpus)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if (state / "cluster.json").exists():
            info: dict[str, object] = json.loads((state / "cluster.json").read_text())
            return info
        if (state / "down").exists():
            break
        time.sleep(0.2)
    stop(state)
    log = (state / "cluster.log").read_text() if (state / "cluster.log").exists() else ""
    raise RuntimeError(f"the Ray cluster did not start: {log[-3000:]}")


def stop(state: Path, timeout: float = 120.0) -> None:
    """Ask the cluster to shut down and wait until it has."""
    (state / "stop").touch()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (state / "down").exists():
        time.sleep(0.2)
    if not (state / "down").exists():
        raise RuntimeError(f"the Ray cluster in {state} did not stop")


def main() -> None:
    state, nodes, cpus = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    caller = os.getppid()
    if os.fork() > 0:  # the first child returns at once: the cluster is nobody's child
        os._exit(0)
    os.setsid()
    os.environ.update(LOOPBACK_ENV)
    log = os.open(state / "cluster.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    serve(state, nodes, caller, cpus)


if __name__ == "__main__":
    main()
