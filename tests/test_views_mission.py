"""views/mission.py and views/events.py on real mission folders and a real event log:
the running-task count behind `houston_busy_workers`, a mission's charts, its budget."""

from __future__ import annotations

from houston import actions
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.views.events import mission_activity
from houston.views.mission import checked_budget, running_tasks

TWO_TASKS = b"name: m\ntasks:\n  - {id: a, agent: p/a}\n  - {id: b, agent: p/a}\n"


def test_running_tasks_counts_held_locks_of_executing_missions(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, TWO_TASKS, "m.yaml")
    assert running_tasks(store) == 0
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    running = store.locate(ref.id).path / "tasks" / "a"
    (running / "lock").mkdir(parents=True)
    fsio.write_json_atomic(running / "lock" / "owner.json", {"attempt": 1, "slot": 1})
    (store.locate(ref.id).path / "tasks" / "b").mkdir()
    assert running_tasks(store) == 1


def test_mission_activity_keeps_its_own_events(home: Home) -> None:
    store = MissionStore(home)
    mine = actions.submit(store, TWO_TASKS, "m.yaml")
    other = actions.submit(store, TWO_TASKS, "m.yaml")
    log = EventLog(home.events)
    log.append("resource", mission=mine.id, task="a", attempt=1, data={"cpu": 5, "rss": 7})
    log.append("resource", mission=other.id, task="a", attempt=1, data={"cpu": 1, "rss": 1})
    log.append("tool.call", mission=mine.id, task="a", attempt=1, data={"name": "read"})
    log.append("budget.warn", mission=mine.id, data={"kind": "tokens"})
    found = mission_activity(store, log, mine)
    assert [point[1:] for point in found["resources"]["a#1"]] == [[5.0, 7.0]]
    assert [e["data"]["name"] for e in found["tools"]] == ["read"]
    assert [e["type"] for e in found["budget"]] == ["budget.warn"]


def test_a_budget_reads_as_the_schema_reads_it_and_a_bad_one_as_none() -> None:
    assert checked_budget({"max_wall_time": "1h30m", "max_cost": 1}) == {
        "max_wall_time": 5400.0,
        "max_cost": 1.0,
    }
    assert checked_budget({"max_tokens": -1}) == {}
    assert checked_budget({"what": 1}) == {} and checked_budget(None) == {}
