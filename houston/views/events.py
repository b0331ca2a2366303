"""A mission's own events picked out of the global event log: resource samples, tool
calls and budget warnings/stops (the dashboard's charts, the OpenTelemetry export).

Only reads the log; a torn last line is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from houston.core.timestamps import parse_time
from houston.home.events import EventLog
from houston.home.store import MissionRef, MissionStore

MISSION_EVENT_TYPES = ("resource", "tool.call", "budget.warn", "budget.stop")
MAX_MISSION_EVENTS = 20_000  # a bound on what one mission view carries


def mission_activity(store: MissionStore, log: EventLog, ref: MissionRef) -> dict[str, Any]:
    """The dashboard's charts of one mission: resource series per attempt, tool calls and
    budget events since it started."""
    found = mission_events(log, ref.id, store.status(ref).get("started"))
    return {
        "resources": resource_series(found),
        "tools": [e for e in found if e.get("type") == "tool.call"],
        "budget": [e for e in found if str(e.get("type")).startswith("budget.")],
    }


def mission_events(log: EventLog, mission_id: str, started: str | None) -> list[dict[str, Any]]:
    """The mission's resource samples, tool calls and budget events from the global log.

    Segments that ended before the mission started are skipped, and a line is parsed only
    if it names the mission, so a mission costs about one scan of the log since it began.
    """
    begin = parse_time(started)
    needle = f'"mission":"{mission_id}"'.encode()
    wanted = {f'"type":"{t}"'.encode() for t in MISSION_EVENT_TYPES}
    found: list[dict[str, Any]] = []
    for line in _lines_since(log, begin.timestamp() if begin else None):
        if needle not in line or not any(w in line for w in wanted):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn last line
        found.append(event)
        if len(found) >= MAX_MISSION_EVENTS:
            break
    return found


def _lines_since(log: EventLog, since: float | None) -> Iterator[bytes]:
    segments = log.segments()
    first = 0
    if since is not None:  # the last segment that began before the mission started
        for index, (_, path) in enumerate(segments):
            stamp = _first_ts(path)
            if stamp is not None and stamp <= since - 5:
                first = index
    for _, path in segments[first:]:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        yield from data.splitlines()


def _first_ts(path: Path) -> float | None:
    try:
        with open(path, "rb") as f:
            line = f.readline(64 * 1024)
        return float(json.loads(line)["ts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resource_series(events: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Pure: `{"task#attempt": [[ts, cpu, rss], ...]}`, one series per attempt."""
    series: dict[str, list[list[float]]] = {}
    for event in events:
        if event.get("type") != "resource":
            continue
        data = event.get("data") or {}
        key = f"{event.get('task')}#{event.get('attempt')}"
        series.setdefault(key, []).append(
            [float(event.get("ts") or 0), float(data.get("cpu") or 0), float(data.get("rss") or 0)]
        )
    return series
