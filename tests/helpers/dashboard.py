"""Missions written straight into a home, as an engine would have left them: many of them
quickly, for the list, the costs and the benchmark. Not a test module."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from houston.core.lifecycle import MissionState
from houston.home.layout import Home

START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
OUTCOMES = ("succeeded", "failed", "cancelled")
PACKAGES = ("alpha", "beta", "gamma")
MODELS = ("gemma-3-270m", "qwen2.5-7b")


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def make_mission(home: Home, n: int, *, spend: bool = False) -> str:
    """Mission number `n`: its name, outcome, package and day follow from `n`."""
    created = START + timedelta(hours=n)
    name = ("nightly report" if n % 2 else "build") + f" {n}"
    mission_id = f"{created:%Y%m%d-%H%M%S}-{name.replace(' ', '-')}-{n % 10000:04d}"
    state = MissionState.EXECUTING if n % 50 == 0 else MissionState.COMPLETED
    outcome = None if state is MissionState.EXECUTING else OUTCOMES[n % 3]
    package = PACKAGES[n % 3]
    folder = home.mission_dir(state, mission_id)
    folder.mkdir(parents=True)
    (folder / "mission.yaml").write_text(
        f"name: {name}\ntasks:\n  - id: work\n    agent: {package}/worker\n"
    )
    finished = created + timedelta(seconds=n % 600 + 1)
    write_json(
        folder / "status.json",
        {
            "id": mission_id,
            "name": name,
            "state": state.value,
            "outcome": outcome,
            "reason": "all_tasks_done",
            "created": iso(created),
            "updated": iso(finished),
            "started": iso(created),
            "finished": iso(finished) if outcome else None,
            "counts": {"total": 1, "succeeded": 1 if outcome == "succeeded" else 0},
            "usage": {
                "tokens": 100 * n if spend else 0,
                "cost": 0.001 * n if spend else 0.0,
                "wall_time": float(n % 600 + 1),
            },
        },
    )
    if spend:
        attempt = folder / "tasks" / "work" / "attempts" / "1"
        write_json(
            folder / "tasks" / "work" / "spec.json", {"id": "work", "agent": f"{package}/worker"}
        )
        write_json(attempt / "usage.json", {"tokens": 100 * n, "cost": 0.001 * n})
        write_json(
            attempt / "result.json",
            {
                "model": MODELS[n % 2],
                "usage": {"prompt_tokens": 60 * n, "completion_tokens": 40 * n},
            },
        )
    return mission_id


def make_missions(home: Home, count: int, *, spend: bool = False) -> list[str]:
    os.makedirs(home.missions, exist_ok=True)
    return [make_mission(home, n, spend=spend) for n in range(1, count + 1)]
