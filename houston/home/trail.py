"""A mission's records of its moves: the transition entry appended to transitions.jsonl
and the status.json written to match it. Entries are typed records built from data (`now`
comes in) and parsed in one place (`parse_entry`); `record_transition` does the writing,
under the caller's stripe lock."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from houston.core.lifecycle import MissionState, Outcome, Reason, budget_stop
from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.layout import status_file, trail_file
from houston.home.status import MissionStatus, new_status, parse_status

# One line of transitions.jsonl (docs/formats.md). `from` is a keyword: functional form.
TransitionEntry = TypedDict(
    "TransitionEntry",
    {
        "ts": str,
        "from": str | None,  # the state left; None on the creation line
        "to": str,
        "reason": str,
        "pid": int,
        "host": str,
        "outcome": NotRequired[str],  # only on moves into COMPLETED
        "detail": NotRequired[dict[str, Any]],
        "repair": NotRequired[bool],  # a `recovered` line the store added
    },
)
_STATES = frozenset(s.value for s in MissionState)
_REASONS = frozenset(r.value for r in Reason)


def transition_entry(
    source: MissionState | str | None,
    target: MissionState,
    reason: Reason,
    outcome: Outcome | None,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> TransitionEntry:
    entry: TransitionEntry = {
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


def parse_entry(raw: object) -> TransitionEntry | None:
    """Pure: one trail line (or a move's intent) as an entry; None unless it names a
    known state to move to and a known reason (a torn or hand-made line)."""
    if not isinstance(raw, dict) or raw.get("to") not in _STATES:
        return None
    if raw.get("reason") not in _REASONS or not isinstance(raw.get("ts"), str):
        return None
    if raw.get("from") is not None and raw.get("from") not in _STATES:
        return None
    return cast(TransitionEntry, raw)


def record_transition(folder: Path, entry: TransitionEntry, now: datetime) -> None:
    """Append the transition `entry` to the trail and write status.json to match.
    Call under the mission's stripe lock. An entry already last in the trail (a
    repair of a mover that died after its append) is not appended twice."""
    source, target = MissionState(str(entry["from"])), MissionState(entry["to"])
    trail = trail_file(folder)
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
    path = status_file(folder)
    try:
        found: Any = fsio.read_json(path)
    except (FileNotFoundError, ValueError):
        found = None
    status = parse_status(found, folder.name, target)
    if status is None:
        status = new_status(folder.name, folder.name, now)
    status["state"], status["reason"], status["updated"] = target.value, reason.value, iso(now)
    _set_outcome_and_times(status, target, outcome, now)
    figure = budget_stop(reason.value, detail) if target is MissionState.COMPLETED else None
    if figure:
        status["budget_stop"] = figure
    else:
        status.pop("budget_stop", None)
    fsio.write_json_atomic(path, status)


def _set_outcome_and_times(
    status: MissionStatus, target: MissionState, outcome: Outcome | None, now: datetime
) -> None:
    """The times and outcome of a move into `target`, set on `status`."""
    completed = target is MissionState.COMPLETED
    status["outcome"] = outcome.value if completed and outcome else None
    status["finished"] = iso(now) if completed else None
    if target is MissionState.EXECUTING and not status.get("started"):
        status["started"] = iso(now)
