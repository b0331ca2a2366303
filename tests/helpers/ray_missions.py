"""Missions for the Ray tests: a package of agents that say where they ran (`raytest`), the
`houston` command run against a cluster, and the records a finished mission left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers.procs import alive

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
