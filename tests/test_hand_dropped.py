"""A mission folder dropped into COMMITTED/ by hand, holding only mission.yaml (the README
allows it): a valid one runs under its own name; an invalid one ends failed (`invalid`)
with the validation message in its status."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.engine import REPO

from houston.core.lifecycle import MissionState
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process

VALID = (
    b"name: dropped-in\ntasks:\n"
    b"  - {id: a, agent: core/shell, inputs: {command: 'echo one'}}\n"
    b"  - {id: b, agent: core/shell, needs: [a], inputs: {command: 'echo two'}}\n"
)


def houston(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def drop(home: Home, name: str, spec: bytes | None) -> None:
    folder = home.state_dir(MissionState.COMMITTED) / name
    folder.mkdir()
    if spec is not None:
        (folder / "mission.yaml").write_bytes(spec)


def test_a_hand_dropped_valid_mission_runs_under_its_name(home: Home) -> None:
    drop(home, "by-hand", VALID)
    served = houston(home, "serve", "--no-ui", "--workers", "1", "--until-idle")
    assert served.returncode == 0, served.stderr
    store = MissionStore(home)
    ref = store.locate("by-hand")
    status = store.status(ref)
    assert (ref.state, status["outcome"], status["name"]) == (
        MissionState.COMPLETED,
        "succeeded",
        "dropped-in",
    )
    for task in ("a", "b"):
        assert os.listdir(ref.path / "tasks" / task / "attempts") == ["1"]  # no crash loop
    assert "dropped-in" in houston(home, "ls").stdout


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (b"name: broken\ntasks: 12\n", "mission.yaml:2"),
        (None, "no mission.yaml in the mission folder"),
        (
            b"name: loop\ntasks:\n  - {id: a, agent: core/shell, needs: [b]}\n"
            b"  - {id: b, agent: core/shell, needs: [a]}\n",
            "cycle",
        ),
    ],
)
def test_a_hand_dropped_invalid_mission_says_why(
    home: Home, spec: bytes | None, message: str
) -> None:
    drop(home, "bad-by-hand", spec)
    served = houston(home, "serve", "--no-ui", "--workers", "1", "--until-idle")
    assert served.returncode == 0, served.stderr
    store = MissionStore(home)
    ref = store.locate("bad-by-hand")
    status = store.status(ref)
    assert (ref.state, status["outcome"], status["reason"]) == (
        MissionState.COMPLETED,
        "failed",
        "invalid",
    )
    assert message in status["error"]
    shown = houston(home, "show", "bad-by-hand")
    assert shown.returncode == 0 and message in shown.stdout and "invalid" in shown.stdout
