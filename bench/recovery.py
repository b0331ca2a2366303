"""Kill -9 a worker in the middle of a job: what happens to the job?

    python bench/recovery.py [--repeat 5] [--observe 10]

Houston: the worker of a running task is SIGKILLed; we measure the time until the task's
next attempt starts (from the event log). Huey (SQLite, process workers) and RQ (redis,
forking worker) get the same kill with their default settings; we watch for --observe
seconds whether the job runs again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from _common import bench_env, redis_server, submit_tasks, table, temp_dir

from houston.engine.engine import Engine, EngineOptions
from houston.home import claims, taskfiles
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.records import OwnerRecord
from houston.home.store import MissionStore


def wait_for(predicate, timeout: float = 30.0, what: str = ""):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    raise SystemExit(f"timed out waiting for {what or predicate}")


def houston_requeue(repeat: int) -> list[float]:
    latencies = []
    with temp_dir("hr-") as root:
        home = Home(root / ".houston").ensure()
        engine = Engine(home, EngineOptions(workers=2))
        thread = threading.Thread(target=engine.run, daemon=True)
        thread.start()
        store, log = MissionStore(home), EventLog(home.events)
        try:
            for _ in range(repeat):
                command = '[ "$HOUSTON_ATTEMPT" = 1 ] && exec sleep 30 || true'
                ref = submit_tasks(
                    home,
                    "kill",
                    [f"  - {{id: a, agent: core/shell, inputs: {{command: '{command}'}}}}"],
                )
                owner = wait_for(lambda r=ref: _owner(store, r.id), what="the claim")
                wait_for(lambda r=ref: _agent_started(store, r.id), what="the agent")
                killed = time.time()
                os.kill(owner.pid, signal.SIGKILL)
                start = wait_for(
                    lambda r=ref: next(
                        (
                            e
                            for e in log.read()
                            if e["mission"] == r.id
                            and e["type"] == "attempt.start"
                            and e["attempt"] == 2
                        ),
                        None,
                    )
                )
                latencies.append(start["ts"] - killed)
                wait_for(lambda r=ref: r.id in engine.finished, what="the mission to finish")
        finally:
            engine.request_stop(force=True)
            thread.join(timeout=30)
    return latencies


def _owner(store: MissionStore, mission_id: str) -> OwnerRecord | None:
    ref = store.locate(mission_id)
    return claims.read_owner(taskfiles.task_dir(ref.path, "a"))


def _agent_started(store: MissionStore, mission_id: str) -> bool:
    ref = store.locate(mission_id)
    return (taskfiles.attempt_dir(ref.path, "a", 1) / "agent.json").exists()


def runs(marker: Path) -> int:
    return len(marker.read_text().split()) if marker.exists() else 0


def huey_kill(observe: float) -> str:
    with temp_dir("hh-") as root:
        env = dict(bench_env(), BENCH_HUEY_DB=str(root / "huey.db"))
        marker = root / "marker"
        import bench_jobs

        _, task = bench_jobs.huey_app(env["BENCH_HUEY_DB"])
        consumer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "huey.bin.huey_consumer",
                "bench_jobs.HUEY",
                "-w",
                "1",
                "-k",
                "process",
                "-q",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            task(str(marker), 30)
            wait_for(lambda: runs(marker) == 1, timeout=90, what="the job to start")
            worker = psutil.Process(int(marker.read_text().split()[0]))
            worker.kill()
            time.sleep(observe)
            return f"ran {runs(marker)}x in {observe:.0f}s: " + (
                "lost (never ran again)" if runs(marker) == 1 else "re-run"
            )
        finally:
            os.killpg(consumer.pid, signal.SIGKILL)
            consumer.wait()


def rq_kill(observe: float) -> str:
    import redis
    from rq import Queue
    from rq.job import Job

    with temp_dir("hq-") as root, redis_server() as url:
        marker = root / "marker"
        conn = redis.Redis.from_url(url)
        job = Queue("bench", connection=conn).enqueue(
            "bench_jobs.marked_sleep", str(marker), 30, job_timeout=600
        )
        cmd = [sys.executable, "-m", "rq.cli", "worker", "-q", "--url", url, "bench"]
        first = subprocess.Popen(
            cmd,
            env=bench_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        second = None
        try:
            wait_for(lambda: runs(marker) == 1, timeout=90, what="the job to start")
            kill_tree(first)
            second = subprocess.Popen(
                cmd,
                env=bench_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(observe)
            status = Job.fetch(job.id, connection=conn).get_status()
            state = getattr(status, "value", status)
            return f"ran {runs(marker)}x in {observe:.0f}s, status {state}: " + (
                "stuck (not re-run)" if runs(marker) == 1 else "re-run"
            )
        finally:
            for proc in (first, second):  # every worker we started, even on a timeout
                if proc is not None:
                    kill_tree(proc)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and everything it forked (RQ's work horse has its own group)."""
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(tree, timeout=10)
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--observe", type=float, default=10.0)
    parser.add_argument("--skip", action="append", default=[], help="huey, rq")
    args = parser.parse_args()
    latencies = houston_requeue(args.repeat)
    ms = [x * 1000 for x in latencies]
    rows = [
        [
            "Houston (worker SIGKILLed)",
            f"requeued as attempt 2 in median {statistics.median(ms):.0f} ms "
            f"(max {max(ms):.0f} ms, n={len(ms)})",
        ]
    ]
    if "huey" not in args.skip:
        rows.append(["Huey, SQLite, process worker", huey_kill(args.observe)])
    if "rq" not in args.skip:
        rows.append(["RQ, redis, forking worker", rq_kill(args.observe)])
    print(table(["system", "job of the killed worker"], rows))
    print(json.dumps({"houston_ms": [round(x, 1) for x in ms]}))


if __name__ == "__main__":
    main()
