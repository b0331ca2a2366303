"""Task states from records and the decision after an attempt: pure, no files."""

from __future__ import annotations

import pytest

from houston.core.taskstate import (
    ExitReason,
    TaskState,
    crash_cap_of,
    exit_reason,
    parse_state,
    settle_attempt,
    state_from_records,
)


def test_a_reader_sees_result_then_lock_then_state_file() -> None:
    assert state_from_records(has_result=True, locked=True, saved="failed") == "succeeded"
    assert state_from_records(has_result=False, locked=True, saved="failed") == "running"
    assert state_from_records(has_result=False, locked=False, saved="failed") == "failed"
    assert state_from_records(has_result=False, locked=False, saved="waiting") == "waiting"
    assert state_from_records(has_result=False, locked=False, saved=None) == "pending"


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ("failed", "failed"),
        ("cancelled", "cancelled"),
        ("skipped", "skipped"),
        ("running", "pending"),
        ("waiting", "pending"),
        ("pending", "pending"),
        ("succeeded", "pending"),
        (None, "pending"),
    ],
)
def test_an_engine_resumes_only_failures_and_results(saved: object, expected: str) -> None:
    """Only result.json proves a success; a running or gated task starts over as pending."""
    state = state_from_records(has_result=False, locked=True, saved=saved, resuming=True)
    assert state == expected
    assert state_from_records(has_result=True, locked=False, saved=saved, resuming=True) == (
        "succeeded"
    )


@pytest.mark.parametrize("junk", ["", "bogus", 3, ["failed"], {"state": "failed"}])
def test_a_state_that_is_no_task_state_reads_as_pending(junk: object) -> None:
    assert parse_state(junk) is TaskState.PENDING


def test_states_are_the_strings_written_in_the_files() -> None:
    assert [s.value for s in TaskState] == [
        "pending",
        "waiting",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "skipped",
    ]
    crashed: str = ExitReason.CRASHED  # a str enum: equal to the string itself
    assert f"{TaskState.FAILED}" == "failed" and crashed == "crashed"


def settle(
    reason: str,
    error: str | None = "boom",
    *,
    failures: int = 0,
    crashes: int = 0,
    retries: int = 2,
    cap: int = 3,
) -> tuple[object, ...]:
    d = settle_attempt(
        reason,
        error,
        failures=failures,
        crashes=crashes,
        retries=retries,
        crash_cap=cap,
        backoff_base=0.5,
    )
    return (d.state, d.failures, d.crashes, d.error, d.keeps_error, d.delay, d.crash_capped)


def test_a_success_is_accepted_and_counts_nothing() -> None:
    assert settle(ExitReason.SUCCEEDED, None, failures=1, crashes=2) == (
        "succeeded",
        1,
        2,
        None,
        False,
        0.0,
        False,
    )


def test_failures_use_up_retries_with_backoff_then_fail() -> None:
    assert settle(ExitReason.FAILED) == ("pending", 1, 0, "boom", False, 0.5, False)
    assert settle(ExitReason.FAILED, failures=1) == ("pending", 2, 0, "boom", False, 1.0, False)
    assert settle(ExitReason.FAILED, failures=2) == ("failed", 3, 0, "boom", False, 0.0, False)
    assert settle(ExitReason.FAILED, None, retries=0) == (
        "failed",
        1,
        0,
        "failed",
        False,
        0.0,
        False,
    )


def test_a_timeout_is_a_failure_named_by_its_reason() -> None:
    assert settle(ExitReason.TIMEOUT, None, retries=0) == (
        "failed",
        1,
        0,
        "timeout",
        False,
        0.0,
        False,
    )
    assert settle(ExitReason.TIMEOUT, None) == ("pending", 1, 0, None, False, 0.5, False)


def test_crashes_do_not_use_retries_but_the_crash_cap_stops_a_loop() -> None:
    assert settle(ExitReason.CRASHED, retries=0) == ("pending", 0, 1, None, True, 0.0, False)
    assert settle(ExitReason.CRASHED, crashes=2, cap=3) == ("pending", 0, 3, None, True, 0.0, False)
    assert settle(ExitReason.CRASHED, crashes=3, cap=3) == ("failed", 0, 4, None, False, 0.0, True)
    assert settle(ExitReason.CRASHED, cap=0) == ("failed", 0, 1, None, False, 0.0, True)


def test_an_interruption_is_never_the_tasks_fault() -> None:
    assert settle(ExitReason.INTERRUPTED, failures=2, crashes=3, retries=0, cap=0) == (
        "pending",
        2,
        3,
        None,
        True,
        0.0,
        False,
    )


def test_cancel_and_budget_stop_end_the_task_without_retry() -> None:
    assert settle(ExitReason.CANCELLED) == ("cancelled", 0, 0, "cancelled", False, 0.0, False)
    assert settle(ExitReason.BUDGET_EXCEEDED, None) == (
        "failed",
        0,
        0,
        "budget exceeded",
        False,
        0.0,
        False,
    )
    assert settle(ExitReason.BUDGET_EXCEEDED, "over 10 tokens") == (
        "failed",
        0,
        0,
        "over 10 tokens",
        False,
        0.0,
        False,
    )


def test_the_crash_cap_is_the_tasks_else_the_missions_else_the_engines() -> None:
    assert crash_cap_of(1, 5, 3) == 1
    assert crash_cap_of(0, 5, 3) == 0
    assert crash_cap_of(None, 5, 3) == 5
    assert crash_cap_of(None, None, 3) == 3


def ended(
    ok: bool = False,
    stop: str | None = None,
    *,
    died: bool = False,
    signalled: bool = False,
    environment: bool = False,
) -> str:
    return exit_reason(
        ok=ok, stop_reason=stop, worker_died=died, signalled=signalled, environment=environment
    )


def test_an_attempt_that_succeeded_wins_over_a_late_cancel_but_not_a_timeout() -> None:
    assert (
        ended(True)
        == ended(True, ExitReason.CANCELLED)
        == ended(True, ExitReason.INTERRUPTED)
        == "succeeded"
    )
    assert ended(True, ExitReason.TIMEOUT) == "timeout"
    assert ended(True, ExitReason.BUDGET_EXCEEDED) == "budget_exceeded"


def test_the_engines_stop_names_the_end_of_an_attempt_it_stopped() -> None:
    assert ended(False, ExitReason.CANCELLED, died=True, signalled=True) == "cancelled"
    assert ended(False, ExitReason.INTERRUPTED, environment=True) == "interrupted"


def test_a_dead_worker_or_a_foreign_signal_is_a_crash_a_full_disk_an_interruption() -> None:
    assert ended(died=True) == ended(signalled=True) == "crashed"
    assert ended(signalled=True, environment=True) == "crashed"
    assert ended(environment=True) == "interrupted"
    assert ended() == "failed"
