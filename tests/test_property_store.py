"""Property: whatever sequence of moves is tried, by this process or by two real processes
racing, every mission sits in exactly one state folder and its audit trail chains from the
creation to that folder, with one entry per move that succeeded."""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from houston.core.errors import ConflictError, IllegalTransition
from houston.core.lifecycle import TRANSITIONS, MissionState, Reason, check_transition
from houston.home import fsio
from houston.home.layout import Home
from houston.home.store import MissionStore

Move = tuple[str, str, str]  # (source or "current", target, reason) as plain strings
LEGAL: list[Move] = sorted(
    (s.value, t.value, r.value) for (s, t), reasons in TRANSITIONS.items() for r in reasons
)
MISSIONS = 3
SPEC = b"name: prop\ntasks: []\n"


def race_worker(conn: multiprocessing.connection.Connection) -> None:
    """Runs in a spawned process: apply the moves it is sent, report each outcome."""
    while True:
        message = conn.recv()
        if message is None:
            return
        root, start_at, moves = message
        store = MissionStore(Home(Path(root)))
        time.sleep(max(0.0, start_at - time.monotonic()))  # both start together
        conn.send([apply(store, *move) for move in moves])


def apply(store: MissionStore, mission_id: str, source: str, target: str, reason: str) -> str:
    try:
        store.move(mission_id, MissionState(source), MissionState(target), Reason(reason))
    except IllegalTransition:
        return "illegal"
    except ConflictError:
        return "conflict"
    except Exception as exc:  # reported, so that the test fails at once and says why
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


@pytest.fixture(scope="module")
def racers() -> Iterator[list[multiprocessing.connection.Connection]]:
    ctx = multiprocessing.get_context("spawn")
    pipes = [ctx.Pipe() for _ in range(2)]
    procs = [ctx.Process(target=race_worker, args=(child,), daemon=True) for _, child in pipes]
    for proc in procs:
        proc.start()
    yield [parent for parent, _ in pipes]
    for parent, _ in pipes:
        parent.send(None)
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
    for parent, child in pipes:
        parent.close()
        child.close()


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("homes")


states = st.sampled_from([s.value for s in MissionState])
reasons = st.sampled_from([r.value for r in Reason])
moves = st.one_of(
    st.sampled_from(LEGAL).map(lambda m: ("current", m[1], m[2])),
    st.sampled_from(LEGAL),
    st.tuples(states, states, reasons),
)
steps = st.lists(
    st.tuples(st.integers(0, MISSIONS - 1), moves, moves, st.sampled_from(["main", "race"])),
    max_size=14,
)


def is_legal(source: str, target: str, reason: str) -> bool:
    try:
        check_transition(MissionState(source), MissionState(target), Reason(reason))
    except IllegalTransition:
        return False
    return True


def folders_of(home: Home, mission_id: str) -> list[str]:
    return [s.value for s in MissionState if home.mission_dir(s, mission_id).is_dir()]


def check_mission(home: Home, mission_id: str, succeeded: list[Move]) -> str:
    """The invariants; returns the state the mission is in."""
    where = folders_of(home, mission_id)
    assert len(where) == 1, f"{mission_id} is in {where}"
    state = where[0]
    folder = home.mission_dir(MissionState(state), mission_id)
    trail = fsio.read_lines(folder / "transitions.jsonl")
    assert (trail[0]["from"], trail[0]["to"]) == (None, "PLANNING")
    for before, after in itertools.pairwise(trail):
        assert after["from"] == before["to"], trail
    assert trail[-1]["to"] == state
    assert not any(t.get("repair") for t in trail)
    assert sorted((t["from"], t["to"], t["reason"]) for t in trail[1:]) == sorted(succeeded)
    status = fsio.read_json(folder / "status.json")
    assert status["state"] == state
    assert status["outcome"] == (trail[-1].get("outcome") if state == "COMPLETED" else None)
    return state


def resolve(move: Move, current: str) -> Move:
    source, target, reason = move
    return (current if source == "current" else source, target, reason)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(plan=steps)
def test_moves_keep_every_mission_in_one_folder_with_a_matching_trail(
    plan: list[tuple[int, Move, Move, str]],
    racers: list[multiprocessing.connection.Connection],
    homes: Path,
) -> None:
    home = Home(Path(tempfile.mkdtemp(dir=homes)) / ".houston").ensure()
    store = MissionStore(home)
    ids = [store.create(SPEC, f"m{i}").id for i in range(MISSIONS)]
    model = dict.fromkeys(ids, "PLANNING")
    done: dict[str, list[Move]] = {i: [] for i in ids}
    for index, first, second, mode in plan:
        mission_id = ids[index]
        a, b = resolve(first, model[mission_id]), resolve(second, model[mission_id])
        if mode == "main":
            outcome = apply(store, mission_id, *a)
            expected = (
                "illegal" if not is_legal(*a) else "ok" if a[0] == model[mission_id] else "conflict"
            )
            assert outcome == expected
            results = [(a, outcome)]
        else:
            results = race(racers, home, mission_id, a, b)
            legal_from_here = [m for m in (a, b) if is_legal(*m) and m[0] == model[mission_id]]
            oks = [m for m, outcome in results if outcome == "ok"]
            for move, outcome in results:
                assert (outcome == "illegal") == (not is_legal(*move))
            if a == b:
                assert len(oks) == (1 if legal_from_here else 0)
            elif legal_from_here:
                assert oks, results  # somebody must have won
        done[mission_id] += [m for m, outcome in results if outcome == "ok"]
        model[mission_id] = check_mission(home, mission_id, done[mission_id])
    for mission_id in ids:
        check_mission(home, mission_id, done[mission_id])
    assert list(home.tmp.iterdir()) == []


def race(
    racers: list[multiprocessing.connection.Connection],
    home: Home,
    mission_id: str,
    a: Move,
    b: Move,
) -> list[tuple[Move, str]]:
    start_at = time.monotonic() + 0.005
    racers[0].send((str(home.root), start_at, [(mission_id, *a)]))
    racers[1].send((str(home.root), start_at, [(mission_id, *b)]))
    got: list[Any] = []
    for conn in racers:
        assert conn.poll(10), "a racing process did not answer"
        got.append(conn.recv()[0])
    assert not any(str(outcome).startswith("error") for outcome in got), got
    return [(a, got[0]), (b, got[1])]
