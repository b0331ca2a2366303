"""A mission's records of its moves: the transition entry appended to transitions.jsonl
and the status.json written to match it. Entries and fresh statuses are built from data
(`now` comes in); `record_transition` does the writing, under the caller's stripe lock."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from houston.core.lifecycle import MissionState, Outcome, Reason, budget_stop
from houston.core.taskstate import fresh_counts
from houston.core.timestamps import iso
from houston.home import fsio


def new_status(mission_id: str, name: str, now: datetime | None) -> dict[str, Any]:
    stamp = iso(now) if now else None
    return {
        "id": mission_id,
        "name": name,
        "state": MissionState.PLANNING.value,
        "outcome": None,
        "reason": Reason.USER_REQUEST.value,
        "created": stamp,
        "updated": stamp,
        "started": None,
        "finished": None,
        "counts": fresh_counts(0),
        "usage": {"tokens": 0, "cost": 0.0, "wall_time": 0.0},
    }


def transition_entry(
    source: MissionState | str | None,
    target: MissionState,
    reason: Reason,
    outcome: Outcome | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ts": iso(now),
        "from": str(source) if source is not None else None,
        "to": target.value,
        "reason": reason.value,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    if outcome is not None:
        entry["outcome"] = outcome.value
    if detail:
        entry["detail"] = detail
    return entry


def record_transition(folder: Path, entry: dict[str, Any], now: datetime) -> None:
    """Append the transition `entry` to the trail and write status.json to match.
    Call under the mission's stripe lock. An entry already last in the trail (a
    repair of a mover that died after its append) is not appended twice."""
    source, target = MissionState(entry["from"]), MissionState(entry["to"])
    trail = folder / "transitions.jsonl"
    last = fsio.read_lines(trail)
    if not (last and last[-1].get("ts") == entry["ts"] and last[-1].get("to") == entry["to"]):
        last_to = last[-1].get("to") if last else None
        if last_to is not None and last_to != source.value:
            repair = transition_entry(last_to, source, Reason.RECOVERED, None, now)
            repair["repair"] = True
            fsio.append_line(trail, repair)
        fsio.append_line(trail, entry, durable=True)
    outcome = Outcome(entry["outcome"]) if entry.get("outcome") else None
    _write_status(folder, target, Reason(entry["reason"]), outcome, now, entry.get("detail"))

def _write_status(
    folder: Path,
    target: MissionState,
    reason: Reason,
    outcome: Outcome | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    path = folder / "status.json"
    try:
        found: Any = fsio.read_json(path)
    except (FileNotFoundError, ValueError):
        found = None
    status = found if isinstance(found, dict) else new_status(folder.name, folder.name, now)
    status.update(state=target.value, reason=reason.value, updated=iso(now))
    if target is MissionState.COMPLETED:
        status.update(outcome=outcome.value if outcome else None, finished=iso(now))
    else:
        status.update(outcome=None, finished=None)
    figure = budget_stop(reason.value, detail) if target is MissionState.COMPLETED else None
    if figure:
        status["budget_stop"] = figure
    else:
        status.pop("budget_stop", None)
    if target is MissionState.EXECUTING and not status.get("started"):
        status["started"] = iso(now)
    fsio.write_json_atomic(path, status)
