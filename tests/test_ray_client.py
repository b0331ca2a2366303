"""`--executor ray://HOST:PORT` (Ray Client) for real: `ray start --head` on 127.0.0.1 with a
Ray Client server port, and a mission run through it while the engine and the home stay
here: python, command and llm attempts run in the head's Ray workers, results, usage and
logs are recorded in the home."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import ray_cluster
from helpers.ray_missions import houston, mission_dir, write_package
from helpers.scripted_llm import ScriptedLLM, text

pytestmark = [pytest.mark.ray, pytest.mark.process]

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def ray_head() -> Iterator[dict[str, Any]]:
    """`ray start --head --block` as this test's child (its own session); SIGTERM makes it
    stop every process it started. A short temp dir: Ray's socket paths have a limit."""
    temp = tempfile.mkdtemp(prefix="hrc-", dir="/tmp")
    gcs, client = free_port(), free_port()
    argv = [
        RAY,
        "start",
        "--head",
        "--block",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(gcs),
        "--ray-client-server-port",
        str(client),
        "--dashboard-agent-listen-port",
        str(free_port()),
        "--include-dashboard",
        "false",
        "--num-cpus",
        "2",
        "--temp-dir",
        temp,
        "--disable-usage-stats",
    ]
    env = {**os.environ, **ray_cluster.LOOPBACK_ENV}
    env.pop("RAY_ADDRESS", None)
    log = open(Path(temp) / "ray-start.log", "wb")  # noqa: SIM115 - closed below
    head = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        wait_listening(client, head, Path(temp) / "ray-start.log")
        yield {"address": f"ray://127.0.0.1:{client}", "pid": head.pid}
    finally:
        stop_head(head)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def wait_listening(
    port: int, head: subprocess.Popen[bytes], log: Path, timeout: float = 300
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise AssertionError(f"ray start exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise AssertionError(f"the Ray Client server never listened: {log.read_text()[-3000:]}")


def stop_head(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `ray start --block` (it stops its processes), then whatever is left of
    the processes it started, by pid."""
    try:
        started = psutil.Process(head.pid).children(recursive=True)
    except psutil.Error:
        started = []
    with contextlib.suppress(ProcessLookupError):
        head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait()
    _, alive = psutil.wait_procs(started, timeout=30)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


def test_a_mission_runs_through_ray_client(ray_head: dict[str, Any], tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, **ray_cluster.LOOPBACK_ENV}
    env.pop("RAY_ADDRESS", None)
    assert (
        houston(home, "package", "install", str(write_package(tmp_path)), env=env).returncode == 0
    )
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: through-client\ntasks:\n"
        "  - id: py\n    agent: raytest/where\n    inputs: {tokens: 7}\n"
        "  - id: sh\n    agent: core/shell\n"
        '    inputs: {command: \'echo "{\\"ppid\\": $PPID}"\'}\n'
        "  - id: ask\n    agent: raytest/ask\n    needs: [py]\n"
    )
    with ScriptedLLM(lambda body, n: text("via the client")) as server:
        done = houston(
            home,
            "run",
            str(mission),
            "--executor",
            ray_head["address"],
            "--no-ui",
            "--workers",
            "1",
            env={**env, "HOUSTON_LLM_BASE_URL": server.url},
        )
    assert done.returncode == 0, done.stdout + done.stderr
    folder = mission_dir(home)
    py = json.loads((folder / "tasks/py/result.json").read_text())
    head_processes = {p.pid for p in psutil.Process(ray_head["pid"]).children(recursive=True)}
    # The python agent ran in a Ray worker of the head: a child of its raylet.
    assert py["raylet"] in head_processes
    assert psutil.Process(py["raylet"]).name() == "raylet"
    assert json.loads((folder / "tasks/sh/result.json").read_text())["ppid"] > 1
    assert json.loads((folder / "tasks/ask/result.json").read_text())["text"] == "via the client"
    assert "running on pid" in (folder / "tasks/py/attempts/1/stdout.log").read_text()
    status = json.loads((folder / "status.json").read_text())
    assert status["usage"]["tokens"] == 7 + 25
    assert status["usage"]["cost"] == pytest.approx(0.25)
