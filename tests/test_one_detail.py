"""`houston show --json` and GET /api/missions/{id} are one view of a mission: after a real
run they give the same fields with the same values (the API adds only `last_event_id`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from helpers.engine import REPO, make_test_package, run_engine, submit

from houston.home.layout import Home
from houston.server.launcher import start

MISSION = """
    name: one view
    budget: {max_tokens: 100000, max_wall_time: 10m}
    tasks:
      - {id: spend, agent: t/spend, inputs: {tokens: 40, cost: 0.01}}
      - {id: hello, agent: core/shell, inputs: {command: "echo hello"}}
      - id: broken
        agent: core/shell
        retries: 0
        needs: [spend]
        inputs: {command: "echo going; echo oops >&2; exit 3"}
"""


def houston_show(home: Home, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), "show", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout


def api_detail(home: Home, mission_id: str) -> dict[str, Any]:
    handle = start(home, port=0)
    try:
        headers = {"Authorization": f"Bearer {handle.token}"}
        with httpx.Client(base_url=handle.base_url, headers=headers, timeout=10) as client:
            answer = client.get(f"/api/missions/{mission_id}")
    finally:
        handle.stop()
    assert answer.status_code == 200, answer.text
    detail: dict[str, Any] = answer.json()
    return detail


@pytest.mark.process
def test_houston_show_json_and_the_api_give_the_same_mission(home: Home) -> None:
    make_test_package(home)
    ref = submit(home, MISSION)
    run_engine(home, ref)
    shown = json.loads(houston_show(home, "--json", ref.id))
    served = api_detail(home, ref.id)

    assert sorted(set(served) - {"last_event_id"}) == sorted(shown)
    for key in sorted(shown):
        if key != "age":  # read at two moments: the same code, a later clock
            assert served[key] == shown[key], key
    assert isinstance(shown["age"], float) and isinstance(served["age"], float)

    # The run gave both views something to agree on: spend, a checked budget, a failed
    # task with its stderr, attempts, why the mission ended.
    assert shown["outcome"] == "failed" and shown["task_usage"]["tokens"] == 40
    assert shown["budget"] == {"max_tokens": 100000, "max_wall_time": 600.0}
    assert [(f["task"], f["code"]) for f in shown["failures"]] == [("broken", 3)]
    assert shown["failures"][0]["stderr"] == "oops"
    assert sorted(a["task"] for a in shown["attempts"]) == ["broken", "hello", "spend"]
    assert shown["end"]["text"].startswith("Task broken failed")
    text = houston_show(home, ref.id)  # the terminal prints the same figures
    assert shown["end"]["text"] in text and "max_wall_time=10m00s" in text
