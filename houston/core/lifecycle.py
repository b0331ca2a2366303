"""The mission lifecycle as a pure transition table with reason codes.

No I/O here: the store applies a transition by one `os.rename` after asking this table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict, cast

from houston.core.errors import IllegalTransition, UsageError


class MissionState(StrEnum):
    PLANNING = "PLANNING"
    COMMITTED = "COMMITTED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Reason(StrEnum):
    USER_REQUEST = "user_request"
    GATE_APPROVED = "gate_approved"
    CLAIMED = "claimed"
    ALL_TASKS_DONE = "all_tasks_done"
    TASK_FAILED = "task_failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    RECOVERED = "recovered"
    INVALID = "invalid"


# (from, to) -> the reasons that may cause it.
TRANSITIONS: dict[tuple[MissionState, MissionState], frozenset[Reason]] = {
    (MissionState.PLANNING, MissionState.COMMITTED): frozenset(
        {Reason.USER_REQUEST, Reason.GATE_APPROVED}
    ),
    (MissionState.PLANNING, MissionState.COMPLETED): frozenset(
        {Reason.USER_REQUEST, Reason.INVALID, Reason.CANCELLED}
    ),
    (MissionState.COMMITTED, MissionState.EXECUTING): frozenset({Reason.CLAIMED}),
    (MissionState.COMMITTED, MissionState.COMPLETED): frozenset({Reason.CANCELLED}),
    (MissionState.EXECUTING, MissionState.COMMITTED): frozenset({Reason.RECOVERED}),
    (MissionState.EXECUTING, MissionState.COMPLETED): frozenset(
        # INVALID: a mission dropped into COMMITTED by hand that does not validate.
        {
            Reason.ALL_TASKS_DONE,
            Reason.TASK_FAILED,
            Reason.BUDGET_EXCEEDED,
            Reason.TIMEOUT,
            Reason.CANCELLED,
            Reason.INVALID,
        }
    ),
    (MissionState.COMPLETED, MissionState.COMMITTED): frozenset(
        {Reason.USER_REQUEST}
    ),  # `houston retry`
}

# Which outcome a move into COMPLETED carries, by reason.
OUTCOME_BY_REASON: dict[Reason, Outcome] = {
    Reason.ALL_TASKS_DONE: Outcome.SUCCEEDED,
    Reason.TASK_FAILED: Outcome.FAILED,
    Reason.BUDGET_EXCEEDED: Outcome.FAILED,
    Reason.TIMEOUT: Outcome.FAILED,
    Reason.INVALID: Outcome.FAILED,
    Reason.CANCELLED: Outcome.CANCELLED,
    Reason.USER_REQUEST: Outcome.CANCELLED,  # a rejected plan
}


def check_transition(current: MissionState, target: MissionState, reason: Reason) -> Outcome | None:
    """Return the outcome the move carries (None unless into COMPLETED); raise if illegal."""
    allowed = TRANSITIONS.get((current, target))
    if allowed is None:
        raise IllegalTransition(
            f"a mission cannot move from {current} to {target}",
            fix=f"legal moves from {current}: {', '.join(legal_targets(current)) or 'none'}",
        )
    if reason not in allowed:
        raise IllegalTransition(
            f"{current} -> {target} cannot happen for reason {reason!s}",
            fix=f"reasons allowed for it: {', '.join(sorted(allowed))}",
        )
    return OUTCOME_BY_REASON[reason] if target is MissionState.COMPLETED else None


def legal_targets(current: MissionState) -> list[str]:
    return sorted({str(to) for (frm, to) in TRANSITIONS if frm is current})


def parse_state(text: str) -> MissionState:
    """A state name as a user types it (`committed`, `COMMITTED`)."""
    try:
        return MissionState(text.strip().upper())
    except ValueError:
        raise UsageError(
            f"unknown mission state {text!r}",
            fix=f"use one of: {', '.join(s.value for s in MissionState)}",
        ) from None


BUDGET_STOP_KEYS = ("scope", "kind", "limit", "spent", "needed", "task")


class BudgetStop(TypedDict, total=False):
    """status.json's `budget_stop`: which budget stopped a mission and the figures."""

    scope: str  # `mission` or `task:<id>`
    kind: str  # tokens, cost or wall_time
    limit: float
    spent: float
    needed: float  # what the task it could not start reserves
    task: str


def budget_stop(reason: str, detail: dict[str, Any] | None) -> BudgetStop | None:
    """The figure a budget stop recorded in its closing transition (which budget, its
    limit, the amount spent), kept in status.json as `budget_stop`."""
    if reason != "budget_exceeded" or not detail or "kind" not in detail:
        return None
    return cast(BudgetStop, {key: detail[key] for key in BUDGET_STOP_KEYS if key in detail})
