"""Prometheus metrics folded from the event log and read from the store."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from houston.home.events import EventLog
from houston.home.layout import Home
from houston.server.launcher import start
from houston.views.metrics import EventTotals, LogMetrics, attempt_outcome, render


def samples(text: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    raw = text.decode() if isinstance(text, bytes) else text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(raw)
        for s in family.samples
    }


def test_attempt_outcome_reads_what_the_engine_says() -> None:
    assert attempt_outcome({"outcome": "failed"}) == "failed"
    assert attempt_outcome({"code": 0}) == "succeeded"
    assert attempt_outcome({"code": 3}) == "failed"
    assert attempt_outcome({}) == "unknown"


def test_totals_fold_attempts_durations_tokens_and_cost() -> None:
    totals = EventTotals()
    for outcome, seconds in (("succeeded", 0.2), ("succeeded", 3.0), ("failed", 90.0)):
        totals.consume({"type": "attempt.end", "data": {"outcome": outcome, "duration": seconds}})
    totals.consume({"type": "usage", "data": {"tokens": 120, "cost": 0.5}})
    totals.consume({"type": "usage", "data": {"tokens": "junk"}})
    found = samples(render(totals, {"PLANNING": 1, "EXECUTING": 2}, busy_workers=3))
    assert found[("houston_attempts_total", (("outcome", "succeeded"),))] == 2
    assert found[("houston_attempts_total", (("outcome", "failed"),))] == 1
    assert found[("houston_attempt_duration_seconds_bucket", (("le", "0.5"),))] == 1
    assert found[("houston_attempt_duration_seconds_bucket", (("le", "5.0"),))] == 2
    assert found[("houston_attempt_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert found[("houston_attempt_duration_seconds_sum", ())] == 93.2
    assert found[("houston_tokens_total", ())] == 120
    assert found[("houston_cost_total", ())] == 0.5
    assert found[("houston_missions", (("state", "EXECUTING"),))] == 2
    assert found[("houston_busy_workers", ())] == 3


def test_log_metrics_read_each_event_once(home: Home) -> None:
    log = EventLog(home.events)
    metrics = LogMetrics(log)
    log.append("usage", data={"tokens": 5})
    assert metrics.catch_up().tokens == 5
    log.append("usage", data={"tokens": 7})
    assert metrics.catch_up().tokens == 12
    assert metrics.catch_up().tokens == 12


def test_metrics_endpoint_speaks_prometheus_text(home: Home) -> None:
    EventLog(home.events).append("attempt.end", data={"code": 0, "duration": 1.5})
    handle = start(home, port=0)
    try:
        answer = httpx.get(
            f"{handle.base_url}/metrics", headers={"Authorization": f"Bearer {handle.token}"}
        )
    finally:
        handle.stop()
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert found[("houston_attempts_total", (("outcome", "succeeded"),))] == 1
    assert found[("houston_missions", (("state", "COMPLETED"),))] == 0


def test_worker_slots_follow_engine_starts_and_stops() -> None:
    totals = EventTotals()
    totals.consume({"type": "engine.state", "data": {"state": "started", "pid": 1, "workers": 4}})
    totals.consume({"type": "engine.state", "data": {"state": "started", "pid": 2, "workers": 2}})
    totals.consume({"type": "engine.state", "data": {"state": "stopped", "pid": 1}})
    assert totals.workers == 2
    totals.consume({"type": "attempt.end", "data": {"reason": "timeout", "duration": 1}})
    assert totals.attempts == {"timeout": 1}


def test_finished_missions_are_counted_by_outcome() -> None:
    # The alert rules' mission failure rate divides these two series.
    totals = EventTotals()
    for outcome in ("succeeded", "failed", "failed", None):
        totals.consume(
            {
                "type": "mission.state",
                "data": {"state": "COMPLETED" if outcome else "EXECUTING", "outcome": outcome},
            }
        )
    found = samples(render(totals, {}, busy_workers=0))
    assert found[("houston_missions_finished_total", (("outcome", "failed"),))] == 2
    assert found[("houston_missions_finished_total", (("outcome", "succeeded"),))] == 1
