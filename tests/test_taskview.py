"""Task and mission views: pure summaries first, then tolerant reading of real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from houston import actions
from houston.core.lifecycle import MissionState
from houston.home.layout import Home
from houston.home.store import MissionRef, MissionStore
from houston.views.mission import mission_detail
from houston.views.tasks import (
    count_states,
    list_row,
    merge_tasks,
    outline_tasks,
    read_outline,
    read_row,
    read_tasks,
    summarize_task,
)

NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
REF = MissionRef("20261122-025900-demo-abcd", MissionState.EXECUTING, Path("/nowhere"))


def test_summary_of_a_task_with_two_attempts() -> None:
    row = summarize_task(
        "fetch",
        {"agent": "core/shell", "initializer": False, "needs": ["init"], "added_by": "init"},
        {"state": "failed", "attempt": 2, "error": "exit 3", "updated": "t"},
        {
            1: {"exit": {"duration": 1.5}, "usage": {"tokens": 10, "cost": 0.01}},
            2: {"exit": {"duration": 2}, "usage": {"tokens": 5, "cost": 0.02}},
        },
        has_result=False,
    )
    assert row["state"] == "failed" and row["attempt"] == 2 and row["attempts"] == 2
    assert row["duration"] == 2.0
    assert row["usage"]["tokens"] == 15 and abs(row["usage"]["cost"] - 0.03) < 1e-9
    assert row["error"] == "exit 3" and row["added_by"] == "init" and row["needs"] == ["init"]


def test_a_result_means_succeeded_whatever_state_json_says() -> None:
    row = summarize_task("t", None, {"state": "running", "error": "old"}, {}, has_result=True)
    assert (row["state"], row["error"]) == ("succeeded", None)


def test_a_held_lock_means_running_on_its_owners_slot() -> None:
    owner = {"pid": 1, "nonce": "n", "attempt": 3, "slot": 2, "since": "2026-01-01T00:00:00Z"}
    row = summarize_task(
        "t",
        None,
        {"state": "pending", "attempt": 2, "error": "exit 1"},
        {2: {}, 3: {}},
        has_result=False,
        owner=owner,
    )
    assert (row["state"], row["attempt"], row["worker"]) == ("running", 3, 2)
    assert row["error"] is None and row["updated"] == owner["since"]
    done = summarize_task(
        "t", None, None, {3: {"exit": {"finished": "x"}}}, has_result=True, owner=owner
    )
    assert (done["state"], done["worker"], done["updated"]) == ("succeeded", None, "x")


def test_nothing_known_is_pending() -> None:
    row = summarize_task("t", None, None, {}, has_result=False)
    assert row["state"] == "pending" and row["attempt"] == 0 and row["duration"] is None
    assert row["usage"] == {"tokens": 0, "cost": 0.0} and row["initializer"] is False


def test_garbage_fields_are_ignored() -> None:
    row = summarize_task(
        "t",
        {"agent": 7, "initializer": "yes", "needs": "a"},
        {"state": 3, "attempt": True},
        {1: {"exit": None, "usage": {"tokens": "many", "cost": None}}},
        has_result=False,
    )
    assert row["agent"] == "" and row["initializer"] is False and row["needs"] == []
    assert row["state"] == "pending" and row["attempt"] == 1
    assert row["usage"] == {"tokens": 0, "cost": 0.0}


def test_outline_lists_the_initializer_first() -> None:
    data = {
        "initializer": {"agent": "core/fanout"},
        "tasks": [{"id": "a", "agent": "p/x", "needs": ["init"]}, "junk", {"id": "b"}],
    }
    rows = outline_tasks(data)
    assert [(r["id"], r["initializer"], r["state"]) for r in rows] == [
        ("init", True, "pending"),
        ("a", False, "pending"),
        ("b", False, "pending"),
    ]
    assert outline_tasks(None) == [] and outline_tasks({"tasks": 3}) == []


def test_merge_keeps_declared_order_then_added_tasks() -> None:
    declared = [{"id": "b", "state": "pending"}, {"id": "a", "state": "pending"}]
    made = {"a": {"id": "a", "state": "running"}, "z": {"id": "z"}, "c": {"id": "c"}}
    assert [r["id"] for r in merge_tasks(declared, made)] == ["b", "a", "c", "z"]
    assert merge_tasks(declared, made)[1]["state"] == "running"


def test_list_row_from_status() -> None:
    status: dict[str, Any] = {
        "name": "demo",
        "outcome": None,
        "created": "2026-11-22T02:59:00.000Z",
        "counts": {"total": 4, "succeeded": 3, "failed": 1},
    }
    row = list_row(REF, status, None, NOW)
    assert (row["name"], row["done"], row["failed"], row["total"]) == ("demo", 3, 1, 4)
    assert row["age"] == 60.0 and row["state"] == "EXECUTING"


def test_list_row_of_a_hand_made_mission_uses_the_outline_and_folder_time() -> None:
    ref = MissionRef("by-hand", MissionState.COMMITTED, Path("/nowhere"))
    outline = {"name": "From YAML", "tasks": [{}, {}]}
    row = list_row(ref, {"name": "by-hand", "counts": {}}, outline, NOW, NOW - timedelta(hours=1))
    assert (row["name"], row["total"], row["age"]) == ("From YAML", 2, 3600.0)
    assert row["created"] == "2026-11-22T02:00:00Z"
    assert list_row(ref, {}, None, NOW)["age"] is None


def test_count_states() -> None:
    counts = count_states([{"state": "pending"}, {"state": "failed"}, {"state": "pending"}])
    assert counts["pending"] == 2 and counts["failed"] == 1 and counts["total"] == 3


# -- real files -------------------------------------------------------------------------


def write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)


def test_read_tasks_of_engine_files_partial_and_torn(tmp_path: Path) -> None:
    (tmp_path / "mission.yaml").write_text("name: m\ntasks:\n  - {id: a, agent: p/a}\n")
    task = tmp_path / "tasks" / "a"
    write(task / "spec.json", {"id": "a", "agent": "p/a", "initializer": False})
    write(task / "lock" / "owner.json", {"pid": 1, "nonce": "n", "attempt": 2, "slot": 1})
    write(task / "attempts" / "1" / "exit.json", {"duration": 0.5})
    write(task / "attempts" / "1" / "usage.json", {"tokens": 7, "cost": 0.5})
    write(task / "attempts" / "2" / "usage.json", "{torn")
    (task / "attempts" / "notes").mkdir()
    added = tmp_path / "tasks" / "child-1"
    write(added / "spec.json", {"id": "child-1", "agent": "p/b", "added_by": "a"})
    write(added / "result.json", {"ok": True})
    (tmp_path / "tasks" / ".tomb-x").mkdir()
    rows = read_tasks(tmp_path)
    assert [r["id"] for r in rows] == ["a", "child-1"]
    a, child = rows
    assert (a["state"], a["attempt"], a["attempts"]) == ("running", 2, 2)
    assert a["usage"]["tokens"] == 7 and a["duration"] is None and a["worker"] == 1
    assert child["worker"] is None
    assert child["state"] == "succeeded" and child["added_by"] == "a"


def test_read_tasks_of_a_hand_dropped_mission_lists_pending_tasks(tmp_path: Path) -> None:
    (tmp_path / "mission.yaml").write_text(
        "name: m\ninitializer: {agent: core/fanout}\ntasks:\n  - {id: a, agent: p/a}\n"
    )
    assert [(r["id"], r["state"]) for r in read_tasks(tmp_path)] == [
        ("init", "pending"),
        ("a", "pending"),
    ]


def test_read_tasks_with_nothing_readable(tmp_path: Path) -> None:
    assert read_tasks(tmp_path) == []
    (tmp_path / "mission.yaml").write_text("name: [unclosed")
    assert read_tasks(tmp_path) == [] and read_outline(tmp_path) is None
    (tmp_path / "mission.yaml").write_text("- a list\n")
    assert read_outline(tmp_path) is None


def test_read_outline_refuses_huge_files(tmp_path: Path) -> None:
    (tmp_path / "mission.yaml").write_text("name: x\n" + "#" * (2 * 1024 * 1024))
    assert read_outline(tmp_path) is None


def test_read_row_and_read_mission(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, b"name: Demo\ntasks:\n  - {id: a, agent: p/a}\n", "m.yaml")
    row = read_row(store, ref, datetime.now(UTC))
    assert (row["name"], row["total"], row["state"]) == ("Demo", 1, "COMMITTED")
    view = mission_detail(store, ref, datetime.now(UTC))
    assert view["tasks"][0]["id"] == "a" and view["task_counts"]["pending"] == 1
    assert [t["to"] for t in view["transitions"]] == ["PLANNING", "COMMITTED"]
    assert view["path"] == str(ref.path) and view["cancel_requested"] is False


def test_read_mission_of_a_hand_dropped_mission(home: Home) -> None:
    folder = home.mission_dir(MissionState.COMMITTED, "by-hand")
    folder.mkdir()
    (folder / "mission.yaml").write_text("name: Manual\nbudget: {max_tokens: 5}\ntasks: []\n")
    store = MissionStore(home)
    view = mission_detail(store, store.locate("by-hand"), datetime.now(UTC))
    assert (view["name"], view["state"], view["budget"]) == (
        "Manual",
        "COMMITTED",
        {"max_tokens": 5},
    )
    assert view["age"] is not None and view["transitions"] == []
