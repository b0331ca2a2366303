"""`houston events` and `houston gc`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from houston.actions import submit
from houston.cli.main import cli
from houston.cli.telemetry import format_event
from houston.core.errors import UsageError
from houston.core.lifecycle import MissionState, Reason
from houston.core.timestamps import parse_age
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore

PLAIN = b"name: plain\ntasks:\n  - id: a\n    agent: core/shell\n"


def run(home: Home, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home.root), *args])
    return result.exit_code, result.output


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * 86400
    assert parse_age("2w") == 14 * 86400
    assert parse_age("90") == 90
    with pytest.raises(UsageError):
        parse_age("soon")
    for unicode_digits in ("\u0663d", "\uff11\uff12h"):  # int() reads them; we do not
        with pytest.raises(UsageError, match="is not an age"):
            parse_age(unicode_digits)


def test_format_event_is_one_readable_line() -> None:
    line = format_event(
        {
            "id": 7,
            "ts": 0,
            "type": "usage",
            "mission": "m",
            "task": "t",
            "attempt": 2,
            "data": {"tokens": 3},
        }
    )
    assert line.split() == ["7", "00:00:00.000", "usage", "m/t#2", '{"tokens":3}']


def test_events_prints_filters_and_resumes(home: Home) -> None:
    log = EventLog(home.events)
    mission = submit(MissionStore(home), PLAIN, "m.yaml").id
    first = log.append("usage", mission=mission, data={"tokens": 1})
    log.append("usage", mission="other", data={"tokens": 2})
    third = log.append("attempt.log", mission=mission, task="a", data={"line": "hi"})
    code, out = run(home, "events", "--json")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [e["id"] for e in log.read()]
    code, out = run(home, "events", "--json", "--mission", mission[:15], "--since", str(first))
    assert [json.loads(line)["id"] for line in out.splitlines()] == [third]
    code, out = run(home, "events")
    assert "attempt.log" in out and '"line":"hi"' in out


def test_events_refuses_a_home_that_does_not_exist(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(tmp_path / "nowhere"), "events"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no Houston home" in done.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.process
def test_events_follow_prints_new_events(home: Home) -> None:
    argv = [sys.executable, "-m", "houston", "--home", str(home.root), "events", "-f", "--json"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        lines: list[str] = []
        stdout = proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()))
        reader.start()
        try:
            log = EventLog(home.events)
            deadline = time.monotonic() + 20
            while reader.is_alive() and time.monotonic() < deadline:
                log.append("usage", data={"n": 1})  # until the follower has started
                reader.join(timeout=0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            reader.join(timeout=10)
    assert lines and json.loads(lines[0])["type"] == "usage"


def test_gc_removes_old_completed_missions_and_old_segments(home: Home) -> None:
    store = MissionStore(home)
    old = submit(store, PLAIN, "m.yaml").id
    young = submit(store, PLAIN, "m.yaml").id
    running = submit(store, PLAIN, "m.yaml").id
    for mission in (old, young):
        store.move(mission, MissionState.COMMITTED, MissionState.COMPLETED, Reason.CANCELLED)
    ref = store.locate(old)
    status = fsio.read_json(ref.path / "status.json")
    status["finished"] = "2020-01-01T00:00:00.000Z"
    fsio.write_json_atomic(ref.path / "status.json", status)
    log = EventLog(home.events, segment_bytes=100)
    for i in range(4):
        log.append("usage", data={"i": i, "pad": "z" * 80})
    segments = log.segments()
    past = time.time() - 60 * 86400
    os.utime(segments[0][1], (past, past))

    code, out = run(home, "gc", "--keep", "30d", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["missions"] == [old]
    assert store.locate_or_none(old) is not None

    code, out = run(home, "gc", "--keep", "30d", "--json")
    report = json.loads(out)
    assert code == 0 and report["missions"] == [old]
    assert report["event_segments"] == [str(segments[0][1])]
    assert store.locate_or_none(old) is None
    assert store.locate(young).state is MissionState.COMPLETED
    assert store.locate(running).state is MissionState.COMMITTED
    assert not list(home.tmp.iterdir())
    code, out = run(home, "gc", "--keep", "never")
    assert code != 0  # UsageError; main() maps it to exit 2
