"""`--executor ray` on a real three-node Ray cluster on loopback (tests/helpers/ray_cluster.py):
python, command and llm attempts run as Ray tasks while claims, results, usage, logs and
events stay in the home here; cancel and timeout stop the remote attempt; a worker node
killed mid-attempt is a crash, the task runs again as a new attempt and results already
accepted are not run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import ray_cluster
from helpers.procs import alive
from test_llm_runner import FakeOpenAI, server  # noqa: F401 - the fixture is used below

pytestmark = [pytest.mark.ray, pytest.mark.process]

AGENTS = {
    "where": "import os, time, json\n"
    "def where(ctx):\n"
    "    print('running on pid', os.getpid())\n"
    "    ctx.report_usage(tokens=int(ctx.inputs.get('tokens', 0)), cost=0.25)\n"
    "    return {'pid': os.getpid(), 'raylet': os.getppid(), 'me': os.getpid()}\n"
    "def hang(ctx):\n"
    "    marker = ctx.inputs['marker'] + f'.{ctx.attempt}'\n"
    "    with open(marker + '.tmp', 'w') as f:\n"
    "        json.dump({'pid': os.getpid(), 'raylet': os.getppid()}, f)\n"
    "    os.replace(marker + '.tmp', marker)\n"
    "    if ctx.attempt in ctx.inputs.get('hang_on', [1]):\n"
    "        time.sleep(120)\n"
    "    return {'attempt': ctx.attempt}\n",
}


def write_package(root: Path) -> Path:
    folder = root / "raytest"
    (folder / "agents").mkdir(parents=True)
    (folder / "package.yaml").write_text(
        "name: raytest\nversion: 1.0.0\ndescription: agents for ray tests\n"
        "agents:\n  - where\n  - hang\n  - ask\n"
    )
    (folder / "raytest_agents.py").write_text(AGENTS["where"])
    for name in ("where", "hang"):
        (folder / "agents" / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: test\nrunner: python\n"
            f"entrypoint: raytest_agents:{name}\n---\n"
        )
    (folder / "agents" / "ask.md").write_text(
        "---\nname: ask\ndescription: test\nrunner: llm\nllm:\n  model: tiny\n---\n"
        "Answer briefly.\n"
    )
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("ray-cluster")
    info = ray_cluster.start(state, nodes=2)
    try:
        yield info
    finally:
        ray_cluster.stop(state)


@pytest.fixture
def setup(cluster: dict[str, Any], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    env = {**os.environ, **ray_cluster.LOOPBACK_ENV, "RAY_ADDRESS": str(cluster["address"])}
    done = houston(home, "package", "install", str(write_package(tmp_path)), env=env)
    assert done.returncode == 0, done.stderr
    return home, env


def houston(
    home: Path, *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def start_run(home: Path, mission: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "houston",
            "--home",
            str(home),
            "run",
            str(mission),
            "--executor",
            "ray",
            "--no-ui",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(path: Path, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def mission_dir(home: Path) -> Path:
    found = list(home.glob("missions/COMPLETED/*"))
    assert len(found) == 1, list(home.glob("missions/*/*"))
    return found[0]


def attempts(folder: Path, task: str) -> dict[int, dict[str, Any]]:
    found = {}
    for exit_file in folder.glob(f"tasks/{task}/attempts/*/exit.json"):
        found[int(exit_file.parent.name)] = json.loads(exit_file.read_text())
    return found


def test_python_command_and_llm_attempts_run_on_ray_nodes(
    setup: tuple[Path, dict[str, str]],
    tmp_path: Path,
    server: str,  # noqa: F811
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
