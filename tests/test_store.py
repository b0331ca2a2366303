"""The mission store on real files: creation, lookup, moves, races, summaries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from houston.core.errors import (
    AmbiguousError,
    ConflictError,
    IllegalTransition,
    NotFoundError,
    StoreError,
    UsageError,
)
from houston.core.ids import MISSION_ID
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.layout import Home
from houston.home.store import MissionRef, MissionStore

NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
SPEC = b"name: demo\ntasks: []\n"


def chain_ok(trail: list[dict[str, object]], state: MissionState) -> bool:
    previous = None
    for entry in trail:
        if entry["from"] != previous:
            return False
        previous = entry["to"]
    return previous == state.value


def folders_holding(home: Home, mission_id: str) -> list[MissionState]:
    return [s for s in MissionState if home.mission_dir(s, mission_id).is_dir()]


def test_create_writes_a_whole_mission_into_planning(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "Demo One", context="shared notes", now=NOW)
    assert ref.state is MissionState.PLANNING
    assert MISSION_ID.match(ref.id) and ref.id.startswith("20261122-030000-demo-one-")
    assert (ref.path / "mission.yaml").read_bytes() == SPEC
    assert (ref.path / "context.md").read_text() == "shared notes"
    for sub in ("tasks", "outputs", "blackboard/directives"):
        assert (ref.path / sub).is_dir()
    status = store.status(ref)
    assert status["state"] == "PLANNING" and status["name"] == "Demo One"
    assert status["created"] == "2026-11-22T03:00:00.000Z"
    assert store.transitions(ref)[0]["to"] == "PLANNING"
    assert os.listdir(home.tmp) == []


def test_create_merges_the_summary(home: Home) -> None:
    ref = MissionStore(home).create(SPEC, "x", summary={"gate": "approve"}, now=NOW)
    assert fsio.read_json(ref.path / "status.json")["gate"] == "approve"


def test_failed_creation_leaves_nothing(home: Home) -> None:
    store = MissionStore(home)
    with pytest.raises(TypeError):
        store.create(SPEC, "x", summary={"bad": object()}, now=NOW)
    assert os.listdir(home.tmp) == []
    assert store.list() == []


def test_move_renames_records_and_summarises(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    later = NOW + timedelta(seconds=5)
    moved = store.move(
        ref.id,
        MissionState.PLANNING,
        MissionState.COMMITTED,
        Reason.USER_REQUEST,
        detail={"by": "t"},
    )
    assert moved == MissionRef(
        ref.id, MissionState.COMMITTED, home.mission_dir(MissionState.COMMITTED, ref.id)
    )
    assert not ref.path.exists()
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED, now=later)
    done = store.move(ref.id, MissionState.EXECUTING, MissionState.COMPLETED, Reason.ALL_TASKS_DONE)
    trail = store.transitions(done)
    assert [t["reason"] for t in trail] == [
        "user_request",
        "user_request",
        "claimed",
        "all_tasks_done",
    ]
    assert trail[1]["detail"] == {"by": "t"}
    assert trail[-1]["outcome"] == "succeeded"
    assert chain_ok(trail, MissionState.COMPLETED)
    status = store.status(done)
    assert (status["state"], status["outcome"]) == ("COMPLETED", "succeeded")
    assert status["started"] == "2026-11-22T03:00:05.000Z" and status["finished"]


def test_move_from_the_wrong_folder_is_a_conflict_and_changes_nothing(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    with pytest.raises(ConflictError, match="it is PLANNING"):
        store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    assert folders_holding(home, ref.id) == [MissionState.PLANNING]
    assert len(store.transitions(ref)) == 1


def test_illegal_move_raises_before_touching_disk(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    with pytest.raises(IllegalTransition):
        store.move(ref.id, MissionState.PLANNING, MissionState.EXECUTING, Reason.CLAIMED)
    assert folders_holding(home, ref.id) == [MissionState.PLANNING]


def test_move_of_an_unknown_mission_is_a_conflict(home: Home) -> None:
    with pytest.raises(ConflictError, match="nowhere"):
        MissionStore(home).move(
            "nope", MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST
        )


def test_move_onto_an_existing_target_is_refused(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    home.mission_dir(MissionState.COMMITTED, ref.id).mkdir()
    with pytest.raises(ConflictError, match="already in COMMITTED"):
        store.move(ref.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    assert (ref.path / "mission.yaml").is_file()


def test_a_trail_behind_the_folder_gets_a_repair_entry(home: Home) -> None:
    """A crash between rename and append, or a hand move, leaves the trail behind."""
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    by_hand = home.mission_dir(MissionState.COMMITTED, ref.id)
    os.rename(ref.path, by_hand)
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    trail = store.transitions(store.locate(ref.id))
    assert trail[1]["repair"] is True and trail[1]["reason"] == "recovered"
    assert chain_ok(trail, MissionState.EXECUTING)


def test_threads_racing_for_one_move_have_exactly_one_winner(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    store.move(ref.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    results: list[str] = []
    start = threading.Barrier(4)

    def claim() -> None:
        start.wait(timeout=10)
        try:
            store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
            results.append("won")
        except ConflictError:
            results.append("lost")

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["lost", "lost", "lost", "won"]
    trail = store.transitions(store.locate(ref.id))
    assert len(trail) == 3 and chain_ok(trail, MissionState.EXECUTING)


def test_locate_resolve_and_prefixes(home: Home) -> None:
    store = MissionStore(home)
    a = store.create(SPEC, "alpha", now=NOW)
    b = store.create(SPEC, "beta", now=NOW)
    assert store.locate(a.id) == a
    assert store.resolve(a.id) == a
    assert store.resolve(b.id[:-3]) == b
    with pytest.raises(AmbiguousError, match="matches 2 missions"):
        store.resolve("20261122")
    with pytest.raises(NotFoundError, match="no mission id starts with"):
        store.resolve("1999")
    with pytest.raises(NotFoundError):
        store.locate("missing")


@pytest.mark.parametrize("bad", ["", ".", "..", ".tmp", "a/b", "../x", "x\0"])
def test_resolve_refuses_names_that_escape(home: Home, bad: str) -> None:
    with pytest.raises(UsageError, match="is not a mission id"):
        MissionStore(home).resolve(bad)


def test_list_is_newest_first_paged_and_filtered(home: Home) -> None:
    store = MissionStore(home)
    refs = [store.create(SPEC, f"m{i}", now=NOW + timedelta(seconds=i)) for i in range(5)]
    store.move(refs[1].id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    assert [r.id for r in store.list()] == [r.id for r in reversed(refs)]
    page, total = store.page(limit=2, offset=2)
    assert [r.id for r in page] == [refs[2].id, refs[1].id] and total == 5
    assert page[1].state is MissionState.COMMITTED
    assert [r.id for r in store.list((MissionState.COMMITTED,))] == [refs[1].id]
    assert store.count(MissionState.PLANNING) == 4
    assert store.list(offset=10) == []


def test_listing_ignores_hidden_entries(home: Home) -> None:
    (home.state_dir(MissionState.COMMITTED) / ".partial").mkdir()
    assert MissionStore(home).list() == []


def test_hand_dropped_mission_is_found_and_summarised(home: Home) -> None:
    folder = home.mission_dir(MissionState.COMMITTED, "my-mission")
    folder.mkdir()
    (folder / "mission.yaml").write_bytes(SPEC)
    store = MissionStore(home)
    ref = store.resolve("my-m")
    assert ref.state is MissionState.COMMITTED
    status = store.status(ref)
    assert (status["id"], status["state"], status["created"]) == ("my-mission", "COMMITTED", None)
    assert store.transitions(ref) == []
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    trail = store.transitions(store.locate(ref.id))
    assert [(t["from"], t["to"]) for t in trail] == [("COMMITTED", "EXECUTING")]
    assert store.status(store.locate(ref.id))["started"]


def test_status_takes_state_from_the_folder_and_survives_garbage(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(SPEC, "x", now=NOW)
    fsio.write_json_atomic(ref.path / "status.json", {"state": "COMPLETED", "name": "x"})
    assert store.status(ref)["state"] == "PLANNING"
    (ref.path / "status.json").write_text("{torn")
    assert store.status(ref)["state"] == "PLANNING"


def test_status_follows_a_mission_that_moved(home: Home) -> None:
    store = MissionStore(home)
    stale = store.create(SPEC, "x", now=NOW)
    store.move(stale.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    status = store.status(stale)
    assert status["state"] == "COMMITTED" and status["created"] == "2026-11-22T03:00:00.000Z"
    assert len(store.transitions(stale)) == 2


def test_update_status_follows_a_concurrent_move(home: Home) -> None:
    store = MissionStore(home)
    stale = store.create(SPEC, "x", now=NOW)
    store.move(stale.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    out = store.update_status(stale, counts={"total": 3}, state="bogus")
    assert out["state"] == "COMMITTED"
    written = fsio.read_json(home.mission_dir(MissionState.COMMITTED, stale.id) / "status.json")
    assert written["counts"] == {"total": 3} and written["state"] == "COMMITTED"
    assert not stale.path.exists()


def test_update_status_of_a_vanished_mission(home: Home) -> None:
    with pytest.raises(NotFoundError):
        gone = MissionRef("gone", MissionState.PLANNING, home.root / "x")
        MissionStore(home).update_status(gone, a=1)


def test_require_does_not_create_and_ensure_does(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    with pytest.raises(StoreError, match="no Houston home"):
        home.require()
    assert not home.root.exists()
    home.ensure()
    assert home.require() is home
    assert all(home.state_dir(s).is_dir() for s in MissionState) and home.tmp.is_dir()
    assert (home.run.stat().st_mode & 0o777) == 0o700


def test_ensure_on_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot create the home folder"):
        Home(tmp_path / "file" / "h").ensure()


def test_one_device_check_names_the_folders(home: Home, tmp_path: Path) -> None:
    home.check_one_device([home.tmp, home.missions])  # same device: fine
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem to compare with")
    with pytest.raises(StoreError, match="more than one filesystem"):
        home.check_one_device([home.tmp, other])


def test_home_locate_order() -> None:
    assert Home.locate("/a", {"HOUSTON_HOME": "/b"}).root == Path("/a")
    assert Home.locate(None, {"HOUSTON_HOME": "/b"}).root == Path("/b")
    assert Home.locate(None, {}).root == Path.cwd() / ".houston"


MOVER = """
import sys
from pathlib import Path
from houston.home.layout import Home
from houston.core.lifecycle import MissionState, Reason
from houston.home.store import MissionStore
store = MissionStore(Home(Path(sys.argv[1])))
for _ in range(int(sys.argv[3])):
    store.move(sys.argv[2], MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    store.move(sys.argv[2], MissionState.EXECUTING, MissionState.COMMITTED, Reason.RECOVERED)
"""


def test_status_updates_survive_another_process_moving_the_mission(home: Home) -> None:
    store = MissionStore(home)
    stale = store.create(SPEC, "x", now=NOW)
    store.move(stale.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    mover = subprocess.Popen([sys.executable, "-c", MOVER, str(home.root), stale.id, "40"])
    updates = 0
    try:
        while mover.poll() is None and updates < 5000:
            updates += 1
            status = store.update_status(stale, counts={"total": updates})
            assert status["state"] in ("COMMITTED", "EXECUTING")
            assert store.status(stale)["counts"]["total"] >= updates
    finally:
        assert mover.wait(timeout=60) == 0
    final = store.locate(stale.id)
    final_status = store.status(final)
    assert final.state is MissionState.COMMITTED and final_status["state"] == "COMMITTED"
    assert final_status["counts"] == {"total": updates} and updates > 0
    trail = store.transitions(final)
    assert len(trail) == 2 + 80 and chain_ok(trail, MissionState.COMMITTED)
