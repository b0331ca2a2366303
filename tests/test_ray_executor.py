"""`--executor ray` on a real three-node Ray cluster on loopback (tests/helpers/ray_cluster.py):
python, command and llm attempts run as Ray tasks while claims, results, usage, logs and
events stay in the home here; cancel and timeout stop the remote attempt; a worker node
killed mid-attempt is a crash, the task runs again as a new attempt and results already
accepted are not run again."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import ray_cluster
from helpers.openai_stub import FakeOpenAI, openai_stub
from helpers.ray_missions import attempts, gone, houston, mission_dir, start_run, write_package

pytestmark = [pytest.mark.ray, pytest.mark.process]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("ray-cluster")
    info = ray_cluster.start(state, nodes=2)
    try:
        yield info
    finally:
        ray_cluster.stop(state)


@pytest.fixture
def server() -> Iterator[str]:
    with openai_stub() as url:
        yield url


@pytest.fixture
def setup(cluster: dict[str, Any], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    env = {**os.environ, **ray_cluster.LOOPBACK_ENV, "RAY_ADDRESS": str(cluster["address"])}
    done = houston(home, "package", "install", str(write_package(tmp_path)), env=env)
    assert done.returncode == 0, done.stderr
    return home, env


def wait_for(path: Path, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def test_python_command_and_llm_attempts_run_on_ray_nodes(
    setup: tuple[Path, dict[str, str]],
    tmp_path: Path,
    server: str,
) -> None:
    home, env = setup
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: on-ray\ntasks:\n"
        "  - id: py\n    agent: raytest/where\n    inputs: {tokens: 12}\n"
        "  - id: sh\n    agent: core/shell\n"
        '    inputs: {command: \'echo from-shell >&2; echo "{\\"ppid\\": $PPID}"\'}\n'
        "  - id: llm\n    agent: raytest/ask\n    inputs: {question: refund?}\n"
        "  - id: report\n    agent: core/collect\n    needs: [py, sh, llm]\n"
    )
    run_env = {**env, "HOUSTON_LLM_BASE_URL": server}
    done = houston(
        home, "run", str(mission), "--executor", "ray", "--no-ui", "--workers", "2", env=run_env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    folder = mission_dir(home)
    py = json.loads((folder / "tasks/py/result.json").read_text())
    # It ran in a Ray worker, whose parent is a raylet, not in one of the engine's workers.
    assert psutil.Process(py["raylet"]).name() == "raylet"
    assert "running on pid" in (folder / "tasks/py/attempts/1/stdout.log").read_text()
    assert (folder / "tasks/sh/attempts/1/stderr.log").read_text() == "from-shell\n"
    assert "Hello Ada" in (folder / "tasks/llm/attempts/1/stdout.log").read_text()
    assert FakeOpenAI.requests, "the llm attempt never reached the endpoint"
    status = json.loads((folder / "status.json").read_text())
    assert status["usage"]["tokens"] == 12 + 40  # python agent + the llm's usage
    assert status["usage"]["cost"] == pytest.approx(0.25)
    collected = json.loads((folder / "outputs/results.json").read_text())
    assert set(collected) == {"py", "sh", "llm"}
    events = [
        json.loads(line)
        for f in sorted((home / "events").glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    ends = [e for e in events if e["type"] == "attempt.end"]
    assert {e["task"] for e in ends} == {"py", "sh", "llm", "report"}
    assert any(e["type"] == "usage" and e["task"] == "py" for e in events)


def test_cancel_stops_the_remote_attempt(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, env = setup
    marker = tmp_path / "hang"
    mission = tmp_path / "m.yaml"
    mission.write_text(
        f"name: cancel-me\ntasks:\n  - id: slow\n    agent: raytest/hang\n"
        f"    inputs: {{marker: '{marker}'}}\n"
    )
    run = start_run(home, mission, env)
    try:
        remote = wait_for(Path(f"{marker}.1"))
        mission_id = next(home.glob("missions/EXECUTING/*")).name
        done = houston(home, "cancel", mission_id, env=env)
        assert done.returncode == 0, done.stderr
        run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert gone(remote["pid"]), "the Ray worker running the cancelled attempt is still alive"
    status = json.loads((mission_dir(home) / "status.json").read_text())
    assert status["outcome"] == "cancelled"


def test_timeout_stops_the_remote_attempt(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, env = setup
    marker = tmp_path / "hang"
    mission = tmp_path / "m.yaml"
    mission.write_text(
        f"name: time-me\ntasks:\n  - id: slow\n    agent: raytest/hang\n"
        f"    timeout: 5s\n    retries: 0\n    inputs: {{marker: '{marker}'}}\n"
    )
    run = start_run(home, mission, env)
    try:
        remote = wait_for(Path(f"{marker}.1"))
        out, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 1, out + err
    assert gone(remote["pid"]), "the Ray worker running the timed-out attempt is still alive"
    assert attempts(mission_dir(home), "slow")[1]["reason"] == "timeout"


def test_a_killed_node_is_a_crash_and_the_task_runs_again(
    setup: tuple[Path, dict[str, str]], cluster: dict[str, Any], tmp_path: Path
) -> None:
    # Last in this module: it leaves the cluster with one worker node.
    home, env = setup
    marker = tmp_path / "hang"
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: lose-a-node\ntasks:\n"
        "  - id: first\n    agent: raytest/where\n"
        "  - id: victim\n    agent: raytest/hang\n    needs: [first]\n    retries: 0\n"
        f"    inputs: {{marker: '{marker}', hang_on: [1]}}\n"
    )
    run = start_run(home, mission, env)
    try:
        remote = wait_for(Path(f"{marker}.1"))
        assert remote["raylet"] in cluster["raylets"]  # on a worker node, not the head
        psutil.Process(remote["raylet"]).kill()  # the node dies with its raylet
        out, err = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, out + err
    folder = mission_dir(home)
    victim = attempts(folder, "victim")
    assert victim[1]["reason"] == "crashed", victim
    assert victim[2]["reason"] == "succeeded"
    again = json.loads(Path(f"{marker}.2").read_text())
    assert again["raylet"] != remote["raylet"]  # the new attempt ran on the other node
    assert list(attempts(folder, "first")) == [1]  # the accepted result was not run again
    assert json.loads((folder / "tasks/victim/result.json").read_text()) == {"attempt": 2}
