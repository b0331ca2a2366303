"""Over-long ids and path parts are bad input (exit 2, HTTP 400), never a traceback or 500."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.engine import REPO

from houston.actions import submit
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

LONG = "a" * 300
MISSION = b"name: m\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'true'}}\n"


def houston(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.process
@pytest.mark.parametrize(
    "args",
    [
        ("show", LONG),
        ("show", LONG * 2),
        ("logs", LONG),
        ("cancel", LONG),
        ("retry", LONG),
        ("approve", LONG),
        ("reject", LONG),
        ("events", "--mission", LONG),
        ("run", LONG),
        ("submit", f"{LONG}.yaml"),
        ("package", "install", LONG),
    ],
)
def test_an_over_long_name_is_a_clean_exit_2(home: Home, args: tuple[str, ...]) -> None:
    submit(MissionStore(home), MISSION, "m.yaml")
    done = houston(home, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "hint:" in done.stderr
    assert "too long" in done.stderr or "no such" in done.stderr or "not" in done.stderr


@pytest.mark.process
def test_an_over_long_task_name_in_logs_is_a_clean_exit_2(home: Home) -> None:
    ref = submit(MissionStore(home), MISSION, "m.yaml")
    done = houston(home, "logs", ref.id, LONG)
    assert done.returncode == 2 and "is not a task id" in done.stderr, done.stderr


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def test_the_api_answers_400_for_an_over_long_id(server: ServerHandle) -> None:
    headers = {"Authorization": f"Bearer {server.token}", "Origin": server.base_url}
    ref = submit(MissionStore(server.home), MISSION, "m.yaml")
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as api:
        for path in (
            f"/api/missions/{LONG}",
            f"/api/missions/{LONG * 4}",
            f"/api/missions/{LONG}/tasks/a/log",
            f"/api/missions/{ref.id}/tasks/{LONG}/log",
        ):
            answer = api.get(path)
            assert answer.status_code == 400, (path[:40], answer.text)
            assert answer.json()["fix"] or answer.json()["error"]
        for verb in ("cancel", "approve", "retry"):
            answer = api.post(f"/api/missions/{LONG}/{verb}")
            assert answer.status_code == 400, answer.text
            assert "too long" in answer.json()["error"]
    assert Path(server.home.root).is_dir()
