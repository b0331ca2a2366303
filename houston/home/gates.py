"""Human gates inside a mission: `tasks/<t>/gate.json`, its record (`GateRecord`) and its
one reader and writer.

A task with `gate: approve` does not start when its needs are done: the engine opens its
gate (`{"state": "waiting"}`) and the task shows as `waiting` until a human decides with
`houston approve ID TASK` / `houston reject ID TASK` or the dashboard, which writes
`approved` or `rejected` over it. The file is the truth, so an engine that restarts finds
the wait (or the decision) where it left it.

The decision is written through a temp file in the mission folder, then renamed into the
task folder: the engine watches mission folders (not task folders), so both steps wake it
without a poll. A decision is taken under the mission's stripe lock and only on a task
that is waiting, so two people deciding at once cannot both win.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from houston.clock import utcnow
from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.taskfiles import task_dir

GATE_FILE = "gate.json"
WAITING = "waiting"
APPROVED = "approved"
REJECTED = "rejected"
DECISIONS = (APPROVED, REJECTED)


@dataclass(frozen=True, slots=True)
class GateRecord:
    """tasks/<t>/gate.json: a `gate: approve` task's wait (`waiting`, `since`) or the
    decision written over it (`approved` or `rejected`, `by`, `at`)."""

    state: str
    since: str | None = None
    by: str | None = None
    at: str | None = None

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {"state": self.state}
        for key in ("since", "by", "at"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        return record

    @classmethod
    def parse(cls, data: Any) -> GateRecord | None:
        """None for what is not a gate, or a gate whose state is not a string (it was
        never believed: the engine opens such a gate again)."""
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            return None
        since, by, at = (data.get(key) for key in ("since", "by", "at"))
        return cls(
            data["state"],
            None if since is None else str(since),
            None if by is None else str(by),
            None if at is None else str(at),
        )


def gate_path(mission_dir: Path, task_id: str) -> Path:
    return task_dir(mission_dir, task_id) / GATE_FILE


def read_gate(mission_dir: Path, task_id: str) -> GateRecord | None:
    """The gate record, or None when the gate was never opened."""
    try:
        data = fsio.read_json(gate_path(mission_dir, task_id))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return GateRecord.parse(data)


def gate_state(mission_dir: Path, task_id: str) -> str | None:
    record = read_gate(mission_dir, task_id)
    return record.state if record else None


def open_gate(mission_dir: Path, task_id: str) -> str:
    """The engine reached a gated task: record the wait unless a decision exists; the
    gate's state (`waiting`, or the decision already taken before a restart)."""
    found = gate_state(mission_dir, task_id)
    if found is not None:
        return found
    task_dir(mission_dir, task_id).mkdir(parents=True, exist_ok=True)
    _write(mission_dir, task_id, GateRecord(WAITING, since=iso(utcnow())))
    return WAITING


def decide(mission_dir: Path, task_id: str, decision: str, by: str) -> GateRecord:
    """Write `approved` or `rejected` over a waiting gate (the caller holds the lock)."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown gate decision {decision!r}")
    record = GateRecord(decision, by=by, at=iso(utcnow()))
    _write(mission_dir, task_id, record)
    return record


def reset(mission_dir: Path, task_id: str) -> None:
    """Forget a rejection (a retried mission asks the human again)."""
    if gate_state(mission_dir, task_id) == REJECTED:
        with contextlib.suppress(FileNotFoundError):
            gate_path(mission_dir, task_id).unlink()


def _write(mission_dir: Path, task_id: str, record: GateRecord) -> None:
    # The temp file is made in the mission folder (watched) and renamed into the task
    # folder (same filesystem): readers see the old or the new gate, and the engine wakes.
    tmp = mission_dir / f".gate-{task_id}-{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)  # left by a writer of ours that died mid-way
    fsio.write_new(tmp, fsio.compact(record.encode()).encode() + b"\n", durable=True)
    os.replace(tmp, gate_path(mission_dir, task_id))  # noqa: PTH105
