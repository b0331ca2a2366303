"""Prometheus metrics for `GET /metrics`, derived from the store and the event log.

`EventTotals` folds events into running totals (pure: it only sees dicts), so a server
reads each event once however often it is scraped. Missions by state and busy workers
are read from the store at scrape time: the folders are the truth. The text format
comes from prometheus-client, the maintained reference implementation.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest

from houston.core.taskstate import ExitReason
from houston.home.events import EventLog, EventTail

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def attempt_outcome(data: dict[str, Any]) -> str:
    """Pure: the outcome an `attempt.end` event reports, however the engine phrased it."""
    for key in ("outcome", "reason", "state", "result"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    code = data.get("code", data.get("exit_code"))
    if isinstance(code, int):
        return ExitReason.SUCCEEDED if code == 0 else ExitReason.FAILED
    return "unknown"


@dataclass
class EventTotals:
    attempts: Counter[str] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_count: int = 0
    duration_sum: float = 0.0
    tokens: float = 0.0
    cost: float = 0.0
    events: Counter[str] = field(default_factory=Counter)
    missions: Counter[str] = field(default_factory=Counter)  # finished, by outcome
    engines: dict[int, int] = field(default_factory=dict)  # pid -> workers, while running

    @property
    def workers(self) -> int:
        """Worker slots of the engines that said they started and not yet stopped."""
        return sum(self.engines.values())

    def consume(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        data = event.get("data") or {}
        self.events[kind] += 1
        if kind == "attempt.end":
            self.attempts[attempt_outcome(data)] += 1
            duration = data.get("duration")
            if isinstance(duration, int | float) and duration >= 0:
                self.observe(float(duration))
        elif kind == "mission.state" and data.get("outcome"):
            self.missions[str(data["outcome"])] += 1
        elif kind == "engine.state" and isinstance(data.get("pid"), int):
            if data.get("state") == "started":
                self.engines[data["pid"]] = int(_number(data.get("workers")))
            elif data.get("state") == "stopped":
                self.engines.pop(data["pid"], None)
        elif kind == "usage":
            self.tokens += _number(data.get("tokens"))
            self.cost += _number(data.get("cost"))

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(DURATION_BUCKETS, seconds)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.duration_count += 1
        self.duration_sum += seconds

    def families(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "houston_attempts", "Attempts finished, by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(self.attempts.items()):
            attempts.add_metric([outcome], n)
        yield attempts
        finished = CounterMetricFamily(
            "houston_missions_finished", "Missions completed, by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(self.missions.items()):
            finished.add_metric([outcome], n)
        yield finished
        cumulative, running = [], 0
        for bound, n in zip(DURATION_BUCKETS, self.buckets, strict=True):
            running += n
            cumulative.append((str(bound), running))
        cumulative.append(("+Inf", self.duration_count))
        yield HistogramMetricFamily(
            "houston_attempt_duration_seconds",
            "Wall time of finished attempts.",
            buckets=cumulative,
            sum_value=self.duration_sum,
        )
        yield CounterMetricFamily("houston_tokens", "Tokens reported by agents.", self.tokens)
        yield CounterMetricFamily("houston_cost", "Cost reported by agents.", self.cost)
        events = CounterMetricFamily(
            "houston_events", "Events in the log, by type.", labels=["type"]
        )
        for kind, n in sorted(self.events.items()):
            events.add_metric([kind], n)
        yield events


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


class _Collector:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(totals: EventTotals, missions: dict[str, int], busy_workers: int) -> bytes:
    """Pure apart from formatting: the Prometheus text exposition of these numbers."""
    by_state = GaugeMetricFamily("houston_missions", "Missions by state.", labels=["state"])
    for state, n in missions.items():
        by_state.add_metric([state], n)
    busy = GaugeMetricFamily("houston_busy_workers", "Tasks running now.", busy_workers)
    slots = GaugeMetricFamily("houston_workers", "Worker slots of running engines.", totals.workers)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector([by_state, busy, slots, *totals.families()]))
    return generate_latest(registry)


class LogMetrics:
    """Running totals over one event log, caught up on each scrape (thread-safe)."""

    def __init__(self, log: EventLog) -> None:
        self.totals = EventTotals()
        self._tail = EventTail(log)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._tail.close()

    def catch_up(self) -> EventTotals:
        with self._lock:
            for _ in range(10_000):  # bounded; a huge backlog finishes on later scrapes
                batch = self._tail.poll(limit=1000)
                if not batch:
                    break
                for event in batch:
                    self.totals.consume(event)
            return self.totals
