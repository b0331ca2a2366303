"""llm attempts as Ray tasks under `--executor ray`, on a real three-node Ray cluster on
loopback (tests/helpers/ray_cluster.py) against a scripted loopback model server: the model call
is made by a Ray worker on a worker node; results, usage (live, so budgets stop it),
logs and events land in the home here; cancel and timeout kill the remote Ray worker;
a worker node killed while the call is in flight is a crash and the task runs again."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import ray_cluster
from helpers.ray_missions import attempts, gone, houston, mission_dir, start_run, write_package
from helpers.scripted_llm import ScriptedLLM, text, tools

pytestmark = [pytest.mark.ray, pytest.mark.process]

ASK = (
    "---\nname: ask\ndescription: test\nrunner: llm\nllm:\n  model: tiny\n"
    "tools: [Bash]\n---\nAnswer briefly.\n"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("ray-llm-cluster")
    info = ray_cluster.start(state, nodes=2)
    try:
        yield info
    finally:
        ray_cluster.stop(state)


@pytest.fixture
def setup(cluster: dict[str, Any], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    package = write_package(tmp_path)
    (package / "agents" / "ask.md").write_text(ASK)
    env = {**os.environ, **ray_cluster.LOOPBACK_ENV, "RAY_ADDRESS": str(cluster["address"])}
    done = houston(home, "package", "install", str(package), env=env)
    assert done.returncode == 0, done.stderr
    return home, env


class Caller:
    """Who made a model call: the pid on the client end of the connection to `port`
    (found while the call is open) and that process's parent."""

    def __init__(self) -> None:
        self.port = 0
        self.seen: list[dict[str, Any]] = []
        self.found = threading.Event()

    def note(self) -> None:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == self.port and conn.pid:
                proc = psutil.Process(conn.pid)
                parent = proc.parent()
                self.seen.append(
                    {
                        "pid": conn.pid,
                        "parent": parent.pid if parent else None,
                        "parent_name": parent.name() if parent else "",
                    }
                )
                self.found.set()
                return


def scripted(answer: Any) -> tuple[ScriptedLLM, Caller]:
    caller = Caller()

    def wrapped(body: dict[str, Any], number: int) -> dict[str, Any]:
        caller.note()
        reply: dict[str, Any] = answer(body, number)
        return reply

    server = ScriptedLLM(wrapped)
    caller.port = server.httpd.server_address[1]
    return server, caller


def events_of(home: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted((home / "events").glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]


def wait_called(caller: Caller, run: Any, home: Path, timeout: float = 180) -> None:
    """Until the model is called; else stop the run and say what the engine said."""
    if caller.found.wait(timeout):
        return
    out, err = finish(run, timeout=1)
    logs = "".join(p.read_text(errors="replace")[-3000:] for p in home.glob("run/*.log"))
    raise AssertionError(f"the model was never called:\n{out}\n{err}\n{logs}")


def finish(run: Any, timeout: float = 240) -> tuple[str, str]:
    try:
        out, err = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    return str(out), str(err)


def test_llm_attempts_run_as_ray_tasks_and_record_here(
    setup: tuple[Path, dict[str, str]], cluster: dict[str, Any], tmp_path: Path
) -> None:
    home, env = setup
    server, caller = scripted(lambda body, n: text(f"Hello from call {n}"))
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: llm-on-ray\ntasks:\n"
        "  - id: py\n    agent: raytest/where\n    inputs: {tokens: 3}\n"
        "  - id: ask\n    agent: raytest/ask\n    needs: [py]\n"
        "    inputs: {about: 'pid {{ tasks.py.result.pid }}'}\n"
    )
    with server:
        done = houston(
            home,
            "run",
            str(mission),
            "--executor",
            "ray",
            "--no-ui",
            "--workers",
            "1",
            env={**env, "HOUSTON_LLM_BASE_URL": server.url},
        )
        sent = server.requests
    assert done.returncode == 0, done.stdout + done.stderr
    folder = mission_dir(home)
    py = json.loads((folder / "tasks/py/result.json").read_text())
    # The model was called by a Ray worker of a worker node, not by a process of the engine.
    assert caller.seen and caller.seen[0]["parent_name"] == "raylet"
    assert caller.seen[0]["parent"] in cluster["raylets"]
    # What it read of its mission was read here: the filled input and its need's result.
    prompt = json.dumps(sent[0]["messages"])
    assert f"pid {py['pid']}" in prompt and '\\"raylet\\"' in prompt
    result = json.loads((folder / "tasks/ask/result.json").read_text())
    assert result["text"] == "Hello from call 1"
    assert "Hello from call 1" in (folder / "tasks/ask/attempts/1/stdout.log").read_text()
    assert json.loads((folder / "tasks/ask/attempts/1/usage.json").read_text())["tokens"] == 25
    status = json.loads((folder / "status.json").read_text())
    assert status["usage"]["tokens"] == 3 + 25
    events = events_of(home)
    assert any(e["type"] == "usage" and e["task"] == "ask" for e in events)
    ends = {e["task"]: e["data"]["reason"] for e in events if e["type"] == "attempt.end"}
    assert ends == {"py": "succeeded", "ask": "succeeded"}


def test_live_usage_stops_the_remote_attempt_on_budget(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, env = setup
    marker = f"{time.time_ns() % 10**6 + 600}.25"  # a unique `sleep` to look for
    # The first answer spends 5,000 tokens and asks for a long tool call: only usage
    # passed on while the attempt runs lets the engine stop it before the tool ends.
    server, _ = scripted(
        lambda body, n: tools(
            ("Bash", {"command": f"sleep {marker}"}),
            usage={"prompt_tokens": 4000, "completion_tokens": 1000, "total_tokens": 5000},
        )
    )
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: spend\nbudget: {max_tokens: 1000}\ntasks:\n  - id: ask\n    agent: raytest/ask\n"
    )
    with server:
        run = start_run(home, mission, {**env, "HOUSTON_LLM_BASE_URL": server.url})
        out, err = finish(run)
    assert run.returncode == 1, out + err
    status = json.loads((mission_dir(home) / "status.json").read_text())
    assert status["outcome"] == "failed" and status["reason"] == "budget_exceeded", status
    assert attempts(mission_dir(home), "ask")[1]["reason"] == "budget_exceeded"
    assert not _processes_with(f"sleep {marker}"), "the agent's tool outlived its attempt"


def test_cancel_and_timeout_kill_the_remote_llm_call(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, env = setup
    release = threading.Event()

    def hang(body: dict[str, Any], number: int) -> dict[str, Any]:
        release.wait(120)
        return text("too late")

    server, caller = scripted(hang)
    mission = tmp_path / "m.yaml"
    # The timeout runs from dispatch: it leaves a loaded machine time to start a Ray worker.
    mission.write_text(
        "name: stop-me\ntasks:\n"
        "  - id: ask\n    agent: raytest/ask\n    timeout: 25s\n    retries: 0\n"
    )
    try:
        with server:
            run = start_run(home, mission, {**env, "HOUSTON_LLM_BASE_URL": server.url})
            wait_called(caller, run, home)
            out, err = finish(run)
            release.set()
    finally:
        release.set()
    assert run.returncode == 1, out + err
    assert gone(caller.seen[0]["pid"]), "the Ray worker of the timed-out call is alive"
    assert attempts(mission_dir(home), "ask")[1]["reason"] == "timeout"
    # Cancel: the same, stopped by `houston cancel` instead of its timeout.
    home2 = tmp_path / "home2"
    assert houston(home2, "package", "install", str(tmp_path / "raytest"), env=env).returncode == 0
    release.clear()
    server, caller = scripted(hang)
    mission.write_text("name: cancel-me\ntasks:\n  - id: ask\n    agent: raytest/ask\n")
    try:
        with server:
            run = start_run(home2, mission, {**env, "HOUSTON_LLM_BASE_URL": server.url})
            wait_called(caller, run, home2)
            mission_id = next(home2.glob("missions/EXECUTING/*")).name
            assert houston(home2, "cancel", mission_id, env=env).returncode == 0
            out, err = finish(run)
    finally:
        release.set()
    assert gone(caller.seen[0]["pid"]), "the Ray worker of the cancelled call is alive"
    assert json.loads((mission_dir(home2) / "status.json").read_text())["outcome"] == "cancelled"


def test_a_node_killed_mid_call_is_a_crash_and_the_call_runs_again(
    setup: tuple[Path, dict[str, str]], cluster: dict[str, Any], tmp_path: Path
) -> None:
    # Last in this module: it leaves the cluster with one worker node.
    home, env = setup
    release = threading.Event()

    def first_hangs(body: dict[str, Any], number: int) -> dict[str, Any]:
        if number == 1:
            release.wait(120)
        return text(f"answer {number}")

    server, caller = scripted(first_hangs)
    mission = tmp_path / "m.yaml"
    mission.write_text(
        "name: lose-a-node\ntasks:\n"
        "  - id: first\n    agent: raytest/where\n"
        "  - id: ask\n    agent: raytest/ask\n    needs: [first]\n"
        "    retries: 0\n"
    )
    try:
        with server:
            run = start_run(home, mission, {**env, "HOUSTON_LLM_BASE_URL": server.url})
            wait_called(caller, run, home)
            raylet = caller.seen[0]["parent"]
            assert raylet in cluster["raylets"]  # on a worker node, not the head
            psutil.Process(raylet).kill()  # the node dies with its raylet, mid-call
            out, err = finish(run)
    finally:
        release.set()
    assert run.returncode == 0, out + err
    folder = mission_dir(home)
    ask = attempts(folder, "ask")
    assert ask[1]["reason"] == "crashed", ask
    assert "Ray node or worker" in ask[1]["error"]
    assert ask[2]["reason"] == "succeeded"
    assert caller.seen[-1]["parent"] != raylet  # the new attempt ran on the other node
    assert json.loads((folder / "tasks/ask/result.json").read_text())["text"] == "answer 2"
    assert list(attempts(folder, "first")) == [1]  # the accepted result was not run again


def _processes_with(command: str, timeout: float = 30) -> list[int]:
    """Pids whose command line is `command`, polled until there are none (or timeout)."""
    deadline = time.monotonic() + timeout
    found: list[int] = []
    while time.monotonic() < deadline:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if " ".join(proc.info["cmdline"] or []) == command:
                found.append(proc.pid)
        if not found:
            return []
        time.sleep(0.2)
    return found
