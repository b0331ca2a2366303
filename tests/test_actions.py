"""The mission verbs on real files, including lost races against another mover."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from houston import actions
from houston.core.errors import ConflictError, IllegalTransition, SpecError
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.layout import Home, cancel_request_file
from houston.home.store import MissionRef, MissionStore

NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
PLAIN = b"name: plain\ntasks:\n  - id: a\n    agent: core/shell\n  - id: b\n    agent: core/shell\n"
GATED = b"name: gated\ngate: approve\ntasks:\n  - id: a\n    agent: core/shell\n"


def reasons(store: MissionStore, ref: MissionRef) -> list[str]:
    return [t["reason"] for t in store.transitions(store.locate(ref.id))]


def test_submit_without_gate_goes_to_committed(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, PLAIN, "plain.yaml", now=NOW)
    assert ref.state is MissionState.COMMITTED
    assert (ref.path / "mission.yaml").read_bytes() == PLAIN
    assert reasons(store, ref) == ["user_request", "user_request"]
    status = store.status(ref)
    assert status["counts"]["total"] == 2 and status["gate"] == "none"
    assert store.transitions(ref)[-1]["detail"] == {"by": "cli"}


def test_submit_gated_waits_in_planning(home: Home) -> None:
    ref = actions.submit(MissionStore(home), GATED, "gated.yaml")
    assert ref.state is MissionState.PLANNING


def test_submit_gated_with_approve(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, GATED, "gated.yaml", approve=True, by="http")
    assert ref.state is MissionState.COMMITTED
    assert reasons(store, ref)[-1] == "gate_approved"
    assert store.transitions(ref)[-1]["detail"] == {"by": "http"}


def test_submit_counts_the_initializer(home: Home) -> None:
    spec = b"name: fan\ninitializer:\n  agent: core/fanout\ntasks: []\n"
    ref = actions.submit(MissionStore(home), spec, "fan.yaml")
    assert MissionStore(home).status(ref)["counts"]["total"] == 1


def test_bad_submission_writes_nothing_not_even_the_home(tmp_path: Path) -> None:
    home = Home(tmp_path / ".houston")
    with pytest.raises(SpecError) as info:
        actions.submit(MissionStore(home), b"name: [unclosed\n", "broken.yaml")
    assert "broken.yaml" in str(info.value)
    assert not home.root.exists()


def test_bad_submission_into_an_existing_home_changes_nothing(home: Home) -> None:
    before = sorted(str(p) for p in home.root.rglob("*"))
    with pytest.raises(SpecError):
        actions.submit(MissionStore(home), b"tasks: 3\n", "bad.yaml")
    assert sorted(str(p) for p in home.root.rglob("*")) == before


def test_approve_and_reject(home: Home) -> None:
    store = MissionStore(home)
    one = actions.submit(store, GATED, "g.yaml")
    two = actions.submit(store, GATED, "g.yaml")
    assert actions.approve(store, one.id).state is MissionState.COMMITTED
    rejected = actions.reject(store, two.id[:-1])
    assert rejected.state is MissionState.COMPLETED
    assert store.status(rejected)["outcome"] == "cancelled"
    assert store.transitions(rejected)[-1]["detail"] == {"by": "cli", "action": "reject"}


@pytest.mark.parametrize("verb", [actions.approve, actions.reject])
def test_approve_or_reject_outside_planning_is_refused(home: Home, verb: Any) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, PLAIN, "p.yaml")
    with pytest.raises(IllegalTransition, match="not waiting in PLANNING"):
        verb(store, ref.id)
    assert store.locate(ref.id).state is MissionState.COMMITTED


@pytest.mark.parametrize("spec", [GATED, PLAIN])
def test_cancel_before_execution_completes_the_mission(home: Home, spec: bytes) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, spec, "m.yaml")
    result = actions.cancel(store, ref.id)
    assert not result.requested and result.ref.state is MissionState.COMPLETED
    assert store.status(result.ref)["outcome"] == "cancelled"
    assert reasons(store, ref)[-1] == "cancelled"


def test_cancel_while_executing_leaves_a_request(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, PLAIN, "m.yaml")
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    result = actions.cancel(store, ref.id, by="http", now=NOW)
    assert result.requested and result.ref.state is MissionState.EXECUTING
    request = cancel_request_file(result.ref.path)
    assert fsio.read_json(request) == {"ts": "2026-11-22T03:00:00.000Z", "by": "http"}
    assert (cancel_request_file(result.ref.path)).is_file()
    again = actions.cancel(store, ref.id, by="cli")
    assert again.requested and fsio.read_json(request)["by"] == "http"  # the first one stays
    assert [p.name for p in result.ref.path.iterdir() if p.name.startswith(".")] == []


def test_cancel_of_a_finished_mission_is_a_clear_error(home: Home) -> None:
    store = MissionStore(home)
    ref = actions.submit(store, PLAIN, "m.yaml")
    actions.cancel(store, ref.id)
    with pytest.raises(IllegalTransition, match=r"already finished \(cancelled\)"):
        actions.cancel(store, ref.id)


class RacingStore(MissionStore):
    """Lets a competitor make its moves just before our first move."""

    def __init__(
        self, home: Home, competitor: list[tuple[MissionState, MissionState, Reason]]
    ) -> None:
        super().__init__(home)
        self.competitor = competitor

    def move(
        self,
        mission_id: str,
        source: MissionState,
        target: MissionState,
        reason: Reason,
        **kw: Any,
    ) -> MissionRef:
        while self.competitor:
            MissionStore(self.home).move(mission_id, *self.competitor.pop(0))
        return super().move(mission_id, source, target, reason, **kw)


def test_cancel_that_loses_to_a_claim_becomes_a_request(home: Home) -> None:
    ref = actions.submit(MissionStore(home), PLAIN, "m.yaml")
    store = RacingStore(home, [(MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)])
    result = actions.cancel(store, ref.id)
    assert result.requested and result.ref.state is MissionState.EXECUTING
    assert (cancel_request_file(result.ref.path)).is_file()


def test_cancel_that_loses_to_completion_reports_the_outcome(home: Home) -> None:
    ref = actions.submit(MissionStore(home), PLAIN, "m.yaml")
    store = RacingStore(
        home,
        [
            (MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED),
            (MissionState.EXECUTING, MissionState.COMPLETED, Reason.ALL_TASKS_DONE),
        ],
    )
    with pytest.raises(IllegalTransition, match="already finished"):
        actions.cancel(store, ref.id)


def test_approve_that_loses_to_a_reject_is_refused(home: Home) -> None:
    ref = actions.submit(MissionStore(home), GATED, "g.yaml")
    racing = [(MissionState.PLANNING, MissionState.COMPLETED, Reason.USER_REQUEST)]
    store = RacingStore(home, racing)
    with pytest.raises(IllegalTransition, match="it is COMPLETED"):
        actions.approve(store, ref.id)


def test_endless_conflicts_give_up_after_a_bounded_number_of_tries(home: Home) -> None:
    ref = actions.submit(MissionStore(home), GATED, "g.yaml")
    tries: list[int] = []

    class Hopeless(MissionStore):
        def move(self, *args: Any, **kwargs: Any) -> MissionRef:
            tries.append(1)
            raise ConflictError("lost again")

    with pytest.raises(ConflictError, match="kept changing state"):
        actions.approve(Hopeless(home), ref.id)
    assert len(tries) == actions.RACE_RETRIES
    assert os.path.isdir(ref.path)
