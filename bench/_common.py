"""Shared helpers of the benchmark scripts: temp homes, a no-op package, redis, tables."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from houston import actions  # noqa: E402
from houston.home.layout import Home  # noqa: E402
from houston.home.store import MissionRef, MissionStore  # noqa: E402

BENCH_AGENTS = """
import time


def noop(ctx):
    return {}


def sleep(ctx):
    time.sleep(float(ctx.inputs.get("seconds", 5)))
    return {}
"""


_SCRATCH: list[Path] = []
# Where scratch folders go (--dir changes it): beside the repo rather than in the system's
# temp folder, which test suites fill and empty (see the note in dispatch.py).
SCRATCH_PARENT = str(REPO / ".bench")


def filesystem_of(path: str | Path) -> str:
    """`ext4 on /`: the filesystem a folder is on (from /proc/mounts; '?' elsewhere)."""
    target = os.path.realpath(path)
    best = ("?", "?")
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _dev, point, kind, *_ = line.split()
                if (target == point or target.startswith(point.rstrip("/") + "/")) and len(
                    point
                ) >= len(best[1]):
                    best = (kind, point)
    except OSError:
        pass
    return f"{best[0]} on {best[1]}"


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A scratch folder, removed when the benchmark exits rather than after each system.

    Deleting a finished run's tens of thousands of files right before the next system
    starts would tax that system for what came before it: ext4 without a journal (as on
    some cloud disks) skips inodes freed in the last ~30 s when it allocates new ones.
    """
    os.makedirs(SCRATCH_PARENT, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH_PARENT))
    if not _SCRATCH:
        atexit.register(_remove_scratch)
    _SCRATCH.append(folder)
    yield folder


def _remove_scratch() -> None:
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


def bench_home(root: Path) -> Home:
    home = Home(root / ".houston").ensure()
    folder = home.packages / "bench" / "1.0.0"
    (folder / "agents").mkdir(parents=True)
    (folder / "bench_agents.py").write_text(BENCH_AGENTS)
    for name in ("noop", "sleep"):
        (folder / "agents" / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: bench {name}\nrunner: python\n"
            f"entrypoint: bench_agents:{name}\n---\n"
        )
    return home


def submit_tasks(home: Home, name: str, lines: list[str]) -> MissionRef:
    text = f"name: {name}\ntasks:\n" + "\n".join(lines) + "\n"
    return actions.submit(MissionStore(home), text.encode(), f"{name}.yaml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 and a random port; stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_env() -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(REPO / "bench"), str(REPO), os.environ.get("PYTHONPATH", "")]
        ),
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
