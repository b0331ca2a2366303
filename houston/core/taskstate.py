"""What state a task is in, how its attempts end, and what happens after each attempt.

Decides three things, from data only:
- the task-state list (`TaskState`) and the ways an attempt ends (`ExitReason`);
- a task's state from its records (result.json, the claim lock, state.json), as a reader
  shows it and as an engine that (re)loads the mission resumes it;
- after an attempt ends: accept, requeue (at once or after a backoff), cancel or fail,
  counting failures against `retries` and crashes against the separate crash cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskState(StrEnum):
    PENDING = "pending"
    WAITING = "waiting"  # its needs are done; held at its human gate until a decision
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a task it needs did not succeed: it can never run


class ExitReason(StrEnum):
    """How one attempt ended (exit.json `reason`, the `attempt.end` event)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the agent said so, or exited non-zero: counts against `retries`
    CRASHED = "crashed"  # its process died by a signal we did not send, or its worker died
    INTERRUPTED = "interrupted"  # not the task's fault (engine stop, full disk): run again
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    BUDGET_EXCEEDED = "budget_exceeded"


FINAL_STATES = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED}
)
# A task in one of these never succeeds: the tasks that need it can never run.
BAD_STATES = frozenset({TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})
# Tasks an engine still has to settle before its mission can end.
OPEN_STATES = frozenset({TaskState.PENDING, TaskState.WAITING, TaskState.RUNNING})


def parse_state(value: object) -> TaskState:
    """A state read from a file; anything that is not a task state reads as pending."""
    if isinstance(value, str):
        try:
            return TaskState(value)
        except ValueError:
            pass
    return TaskState.PENDING


def state_from_records(
    *, has_result: bool, locked: bool, saved: object, resuming: bool = False
) -> TaskState:
    """A task's state from its files: result.json (`has_result`), a claim lock with an
    owner (`locked`) and state.json's `state` (`saved`; None when there is none).

    result.json means succeeded: it is written last, atomically, and only it proves a
    success. For a reader (`houston show`, the API, the progress display) a held lock
    means running; else state.json says (it is written when a task fails, is requeued,
    skipped or waits at its gate), and no state.json means pending.
    An engine (re)loading the mission (`resuming`) starts every other task over as
    pending (a running task's owner is gone or being recovered, a gate is opened again
    from gate.json, attempt numbers are never reused), unless state.json says it
    failed, was cancelled or skipped.
    """
    if has_result:
        return TaskState.SUCCEEDED
    if resuming:
        state = parse_state(saved)
        return state if state in BAD_STATES else TaskState.PENDING
    if locked:
        return TaskState.RUNNING
    return parse_state(saved)


def fresh_counts(total: int) -> dict[str, int]:
    """The `counts` of status.json for a mission whose tasks have not begun."""
    return {
        "total": total,
        TaskState.PENDING.value: total,
        TaskState.RUNNING.value: 0,
        TaskState.SUCCEEDED.value: 0,
        TaskState.FAILED.value: 0,
    }


def count_by_state(states: list[str] | tuple[str, ...]) -> dict[str, int]:
    """How many tasks are in each state (every state listed, unknown ones too) and `total`."""
    counts: dict[str, int] = {state.value: 0 for state in TaskState}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    counts["total"] = len(states)
    return counts


# -- after an attempt -------------------------------------------------------------------


def exit_reason(
    *, ok: bool, stop_reason: str | None, worker_died: bool, signalled: bool, environment: bool
) -> str:
    """How an attempt ended. `stop_reason` is why the engine stopped it (None: it did not).

    An agent that succeeded wins over a cancel or an interruption that came too late;
    otherwise the engine's reason for stopping it is the reason. A worker that died, or an
    agent killed by a signal the engine did not send, is a crash; an agent that failed
    on an environment fault (a full disk) is interrupted; anything else failed.
    """
    if ok and stop_reason in (None, ExitReason.CANCELLED, ExitReason.INTERRUPTED):
        return ExitReason.SUCCEEDED
    if stop_reason is not None:
        return stop_reason
    if worker_died or signalled:
        return ExitReason.CRASHED
    if environment:
        return ExitReason.INTERRUPTED
    return ExitReason.FAILED


@dataclass(frozen=True)
class Settlement:
    """What follows an attempt: the task's next state and its counters from now on."""

    state: TaskState  # SUCCEEDED (accept), PENDING (requeue), CANCELLED or FAILED
    failures: int
    crashes: int
    error: str | None = None  # the task's error from now on, unless `keeps_error`
    keeps_error: bool = False  # a requeue that is no failure leaves the error as it was
    delay: float = 0.0  # seconds before a requeued task may start again
    crash_capped: bool = False  # failed by the crash cap (its error lists the crashes)


def settle_attempt(
    reason: str,
    error: str | None,
    *,
    failures: int,
    crashes: int,
    retries: int,
    crash_cap: int,
    backoff_base: float,
) -> Settlement:
    """The decision after an attempt of a task ended for `reason` with `error`.

    A failure uses up one of the task's `retries` (requeued after a backoff); a crash
    does not, but more than `crash_cap` crashes fail the task (a crash loop); an
    interruption is never the task's fault; a budget stop fails it at once.
    """
    if reason == ExitReason.SUCCEEDED:
        return Settlement(TaskState.SUCCEEDED, failures, crashes)
    if reason == ExitReason.INTERRUPTED:
        return Settlement(TaskState.PENDING, failures, crashes, keeps_error=True)
    if reason == ExitReason.CRASHED:
        if crashes + 1 > crash_cap:
            return Settlement(TaskState.FAILED, failures, crashes + 1, crash_capped=True)
        return Settlement(TaskState.PENDING, failures, crashes + 1, keeps_error=True)
    if reason == ExitReason.CANCELLED:
        return Settlement(TaskState.CANCELLED, failures, crashes, "cancelled")
    if reason == ExitReason.BUDGET_EXCEEDED:
        return Settlement(TaskState.FAILED, failures, crashes, error or "budget exceeded")
    if failures + 1 <= retries:
        delay = backoff(failures + 1, backoff_base)
        return Settlement(TaskState.PENDING, failures + 1, crashes, error, delay=delay)
    return Settlement(TaskState.FAILED, failures + 1, crashes, error or reason)


def crash_cap_of(task_cap: int | None, mission_cap: int | None, engine_cap: int) -> int:
    """The task's `crash_cap`, else its mission's, else the engine's."""
    for cap in (task_cap, mission_cap):
        if cap is not None:
            return int(cap)
    return engine_cap


def backoff(failures: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds to wait before the next attempt after `failures` failed ones (1, 2, ...)."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** (failures - 1)))
