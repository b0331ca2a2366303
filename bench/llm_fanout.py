"""Network-bound agents: N llm tasks against an endpoint that answers in 1 s.

    python bench/llm_fanout.py [--tasks 1000] [--concurrency 100] [--delay 1.0] [--workers 2]

A loopback OpenAI-compatible server (bench/_llm_server.py: Starlette on uvicorn, backlog
4096) answers every chat call after --delay seconds. Side by side in one run:

* Houston: one mission of N tasks of a prompt agent (`llm` runner, not streaming), run by
  an engine with --workers CPU slots and `llm_concurrency` = --concurrency, timed from the
  submit to the mission's end (validation, engine start and warm workers included).
* the floor: plain asyncio with the same HTTP client as Houston's llm runner
  (urllib.request, in a thread per call) at the same concurrency, timed the same way.

The ratio Houston / floor is the cost of the control plane (claims, attempt folders,
results, events, budgets); the floor itself is about N / concurrency x delay. Peak RSS is
the sum over the engine process and its workers (sampled every 0.1 s), the server excluded.
Targets: ratio within 1.25 at concurrency 100, RSS under 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress

import _common
import psutil
from _common import bench_env, bench_home, free_port, submit_tasks, table, temp_dir

from houston.engine.engine import Engine, EngineOptions

PROMPT_AGENT = "---\nname: ask\ndescription: one short question\n---\nAnswer in one word.\n"


@contextmanager
def llm_server(delay: float) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(_common.REPO / "bench" / "_llm_server.py"), str(port), str(delay)],
        env=bench_env(),
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("the loopback llm server exited at start")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 404/405: it is up
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the loopback llm server did not start")
        yield f"http://127.0.0.1:{port}/v1", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PeakRss:
    """Peak RSS of this process and its children (the engine and its workers)."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                if proc.pid == self.exclude:
                    continue
                with suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)


def houston(
    url: str, server_pid: int, tasks: int, concurrency: int, workers: int
) -> tuple[float, int]:
    os.environ.update(
        {
            "HOUSTON_LLM_BASE_URL": url,
            "HOUSTON_LLM_MODEL": "bench",
            "HOUSTON_LLM_STREAM": "0",
            "HOUSTON_LLM_TIMEOUT": "60",
        }
    )
    with temp_dir("hb-llm-") as root:
        home = bench_home(root)
        (home.packages / "bench" / "1.0.0" / "agents" / "ask.md").write_text(PROMPT_AGENT)
        lines = [
            f"  - {{id: q{i:05d}, agent: bench/ask, inputs: {{n: {i}}}}}" for i in range(tasks)
        ]
        options = EngineOptions(workers=workers, llm_concurrency=concurrency)
        with PeakRss(exclude=server_pid) as rss:
            start = time.perf_counter()
            ref = submit_tasks(home, "llm-fanout", lines)
            options.missions = {ref.id}
            finished = Engine(home, options).run()
            elapsed = time.perf_counter() - start
        if finished[ref.id][0].value != "succeeded":
            raise SystemExit(f"the houston mission failed: {finished}")
        return elapsed, rss.peak


def floor(url: str, tasks: int, concurrency: int) -> float:
    """asyncio + urllib.request (in threads) at the same concurrency: the least it can take."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(i: int) -> dict[str, object]:
        body = json.dumps(
            {
                "model": "bench",
                "stream": False,
                "messages": [
                    {"role": "system", "content": "Answer in one word."},
                    {"role": "user", "content": json.dumps({"n": i})},
                ],
            }
        ).encode()
        request = urllib.request.Request(
            f"{url}/chat/completions",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with opener.open(request, timeout=60) as response:
            answer: dict[str, object] = json.loads(response.read())
            return answer

    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:

            async def one(i: int) -> None:
                async with gate:
                    await loop.run_in_executor(pool, call, i)

            await asyncio.gather(*(one(i) for i in range(tasks)))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with llm_server(args.delay) as (url, pid):
        floor(url, min(args.tasks, args.concurrency), args.concurrency)  # warm the server
        h_time, h_rss = houston(url, pid, args.tasks, args.concurrency, args.workers)
        f_time = floor(url, args.tasks, args.concurrency)
    ratio = h_time / f_time
    print(
        f"{args.tasks} llm tasks, endpoint delay {args.delay:g} s, concurrency "
        f"{args.concurrency}, {args.workers} CPU slots, {os.cpu_count()} cores"
    )
    print(
        table(
            ["system", "seconds", "tasks/s", "vs floor", "peak RSS (engine+workers)"],
            [
                [
                    "plain asyncio + urllib (floor)",
                    f"{f_time:.2f}",
                    f"{args.tasks / f_time:.0f}",
                    "1.00x",
                    "-",
                ],
                [
                    "houston (llm runner, network worker)",
                    f"{h_time:.2f}",
                    f"{args.tasks / h_time:.0f}",
                    f"{ratio:.2f}x",
                    f"{h_rss / 2**20:.0f} MB",
                ],
            ],
        )
    )
    ok = ratio <= 1.25 and h_rss < 400 * 2**20
    print(f"target (within 1.25x of the floor, under 400 MB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
