"""Retention in houston.home.gc: old finished missions leave the home in one rename and a
delete, and each deletion is recorded in the event log."""

from __future__ import annotations

import time

from click.testing import CliRunner

from houston.actions import submit
from houston.cli.main import cli
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.gc import DELETED, collect, delete_mission
from houston.home.layout import Home, status_file
from houston.home.store import MissionStore

PLAIN = b"name: plain\ntasks:\n  - id: a\n    agent: core/shell\n"


def _finished(store: MissionStore, finished: str | None) -> str:
    mission_id = submit(store, PLAIN, "m.yaml").id
    store.move(mission_id, MissionState.COMMITTED, MissionState.COMPLETED, Reason.CANCELLED)
    if finished is not None:
        path = status_file(store.locate(mission_id).path)
        fsio.write_json_atomic(path, {**fsio.read_json(path), "finished": finished})
    return mission_id


def test_collect_removes_old_finished_missions_and_records_each(home: Home) -> None:
    store = MissionStore(home)
    old = _finished(store, "2020-01-01T00:00:00.000Z")
    young = _finished(store, None)
    running = submit(store, PLAIN, "m.yaml").id
    dry = collect(store, now=time.time(), keep_seconds=86400, dry_run=True)
    assert dry.missions == [old] and store.locate_or_none(old) is not None
    assert list(EventLog(home.events).read()) == []  # a dry run records nothing

    done = collect(store, now=time.time(), keep_seconds=86400)
    assert done.missions == [old] and done.event_segments == []
    assert store.locate_or_none(old) is None
    assert store.locate(young).state is MissionState.COMPLETED
    assert store.locate(running).state is MissionState.COMMITTED
    assert not list(home.tmp.iterdir())
    events = list(EventLog(home.events).read())
    assert [(e["type"], e["mission"], e["data"]) for e in events] == [
        ("mission.state", old, {"state": DELETED, "from": "COMPLETED", "reason": "gc"})
    ]


def test_delete_mission_says_whether_it_deleted(home: Home) -> None:
    store = MissionStore(home)
    mission_id = _finished(store, None)
    assert delete_mission(store, mission_id) is True
    assert store.locate_or_none(mission_id) is None
    assert delete_mission(store, mission_id) is False  # gone already: nothing to do


def test_gc_prints_what_it_removed(home: Home) -> None:
    store = MissionStore(home)
    _finished(store, "2020-01-01T00:00:00.000Z")
    result = CliRunner().invoke(cli, ["--home", str(home.root), "gc", "--keep", "30d"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == (
        "removed 1 completed mission(s), 0 event segment(s), 0 worktree(s), "
        "0 leftover file(s) of interrupted writes"
    )
