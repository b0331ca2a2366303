"""The lifecycle table is pure: tested without any file."""

from __future__ import annotations

import itertools

import pytest

from houston.core.errors import IllegalTransition, UsageError
from houston.core.lifecycle import (
    TRANSITIONS,
    MissionState,
    Outcome,
    Reason,
    check_transition,
    legal_targets,
    parse_state,
)


@pytest.mark.parametrize(
    ("source", "target", "reason", "outcome"),
    [
        (MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST, None),
        (MissionState.PLANNING, MissionState.COMMITTED, Reason.GATE_APPROVED, None),
        (MissionState.PLANNING, MissionState.COMPLETED, Reason.USER_REQUEST, Outcome.CANCELLED),
        (MissionState.PLANNING, MissionState.COMPLETED, Reason.INVALID, Outcome.FAILED),
        (MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED, None),
        (MissionState.COMMITTED, MissionState.COMPLETED, Reason.CANCELLED, Outcome.CANCELLED),
        (MissionState.EXECUTING, MissionState.COMMITTED, Reason.RECOVERED, None),
        (MissionState.EXECUTING, MissionState.COMPLETED, Reason.ALL_TASKS_DONE, Outcome.SUCCEEDED),
        (MissionState.EXECUTING, MissionState.COMPLETED, Reason.TASK_FAILED, Outcome.FAILED),
        (MissionState.EXECUTING, MissionState.COMPLETED, Reason.BUDGET_EXCEEDED, Outcome.FAILED),
        (MissionState.EXECUTING, MissionState.COMPLETED, Reason.TIMEOUT, Outcome.FAILED),
        (MissionState.EXECUTING, MissionState.COMPLETED, Reason.CANCELLED, Outcome.CANCELLED),
        (MissionState.COMPLETED, MissionState.COMMITTED, Reason.USER_REQUEST, None),
    ],
)
def test_legal_moves_carry_their_outcome(
    source: MissionState, target: MissionState, reason: Reason, outcome: Outcome | None
) -> None:
    assert check_transition(source, target, reason) == outcome


def test_every_pair_outside_the_table_raises_and_names_the_legal_moves() -> None:
    for source, target in itertools.product(MissionState, MissionState):
        if (source, target) in TRANSITIONS:
            continue
        with pytest.raises(IllegalTransition) as info:
            check_transition(source, target, Reason.USER_REQUEST)
        assert f"from {source} to {target}" in str(info.value)
        assert "legal moves" in str(info.value)


def test_a_wrong_reason_for_a_legal_pair_raises() -> None:
    for (source, target), reasons in TRANSITIONS.items():
        for reason in set(Reason) - reasons:
            with pytest.raises(IllegalTransition, match="cannot happen for reason"):
                check_transition(source, target, reason)


def test_every_move_into_completed_has_an_outcome() -> None:
    for (_, target), reasons in TRANSITIONS.items():
        if target is MissionState.COMPLETED:
            for reason in reasons:
                assert check_transition(_, target, reason) in set(Outcome)


def test_no_move_stays_in_place_and_claims_only_come_from_committed() -> None:
    assert all(source is not target for source, target in TRANSITIONS)
    claims = [pair for pair, reasons in TRANSITIONS.items() if Reason.CLAIMED in reasons]
    assert claims == [(MissionState.COMMITTED, MissionState.EXECUTING)]


def test_legal_targets() -> None:
    assert legal_targets(MissionState.PLANNING) == ["COMMITTED", "COMPLETED"]
    assert legal_targets(MissionState.COMPLETED) == ["COMMITTED"]


@pytest.mark.parametrize("text", ["committed", "COMMITTED", " Committed "])
def test_parse_state_ignores_case(text: str) -> None:
    assert parse_state(text) is MissionState.COMMITTED


def test_parse_state_refuses_unknown_names_with_the_choices() -> None:
    with pytest.raises(UsageError, match="PLANNING, COMMITTED, EXECUTING, COMPLETED"):
        parse_state("running")
