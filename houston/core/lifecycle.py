"""The mission lifecycle as a pure transition table with reason codes.

No I/O here: the store applies a transition by one `os.rename` after asking this table.
"""

from __future__ import annotations

from enum import StrEnum

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


S = MissionState
R = Reason

# (from, to) -> the reasons that may cause it.
TRANSITIONS: dict[tuple[MissionState, MissionState], frozenset[Reason]] = {
    (S.PLANNING, S.COMMITTED): frozenset({R.USER_REQUEST, R.GATE_APPROVED}),
    (S.PLANNING, S.COMPLETED): frozenset({R.USER_REQUEST, R.INVALID, R.CANCELLED}),
    (S.COMMITTED, S.EXECUTING): frozenset({R.CLAIMED}),
    (S.COMMITTED, S.COMPLETED): frozenset({R.CANCELLED}),
    (S.EXECUTING, S.COMMITTED): frozenset({R.RECOVERED}),
    (S.EXECUTING, S.COMPLETED): frozenset(
        # INVALID: a mission dropped into COMMITTED by hand that does not validate.
        {R.ALL_TASKS_DONE, R.TASK_FAILED, R.BUDGET_EXCEEDED, R.TIMEOUT, R.CANCELLED, R.INVALID}
    ),
    (S.COMPLETED, S.COMMITTED): frozenset({R.USER_REQUEST}),  # `houston retry`
}

# Which outcome a move into COMPLETED carries, by reason.
OUTCOME_BY_REASON: dict[Reason, Outcome] = {
    R.ALL_TASKS_DONE: Outcome.SUCCEEDED,
    R.TASK_FAILED: Outcome.FAILED,
    R.BUDGET_EXCEEDED: Outcome.FAILED,
    R.TIMEOUT: Outcome.FAILED,
    R.INVALID: Outcome.FAILED,
    R.CANCELLED: Outcome.CANCELLED,
    R.USER_REQUEST: Outcome.CANCELLED,  # a rejected plan
}


def check_transition(
    current: MissionState, target: MissionState, reason: Reason
) -> Outcome | None:
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
    return OUTCOME_BY_REASON[reason] if target is S.COMPLETED else None


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
