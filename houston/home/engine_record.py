"""`engine.json`: the engine that claimed an EXECUTING mission (docs/formats.md). Written
right after the claim, removed just before the move out; read by the recovery sweep (a
dead engine's missions are taken over) and by `houston run` following another engine."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.layout import engine_file
from houston.home.records import LiveProcess, ProcessRecord


@dataclass(frozen=True, slots=True)
class EngineRecord:
    """engine.json. `start_token` is the process's start time in clock ticks since boot,
    with the boot id; `since` is when it claimed the mission."""

    pid: int
    start_token: str | None
    host: str | None
    boot_id: str | None
    since: str | None

    def encode(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "start_token": self.start_token,
            "host": self.host,
            "boot_id": self.boot_id,
            "since": self.since,
        }

    @classmethod
    def parse(cls, data: Any) -> EngineRecord | None:
        """None for what names no process the way the liveness check reads one (a pid
        and a `start_token` key): such a record never counted as a live engine."""
        process = ProcessRecord.parse(data)
        if process is None:
            return None
        since = data.get("since")
        return cls(
            process.pid,
            process.start_token,
            process.host,
            process.boot_id,
            None if since is None else str(since),
        )


def write_engine_record(mission_dir: Path, identity: LiveProcess, now: datetime) -> None:
    """Record the claiming engine (its pid, start_token, host, boot_id)."""
    record = EngineRecord(
        identity.pid, identity.start_token, identity.host, identity.boot_id, iso(now)
    )
    fsio.write_json_atomic(engine_file(mission_dir), record.encode(), durable=False)


def read_engine_record(mission_dir: Path) -> EngineRecord | None:
    """The record, or None when there is none (or it does not parse, or names no
    process); other errors (permission denied) are raised."""
    try:
        found = fsio.read_json(engine_file(mission_dir))
    except (FileNotFoundError, ValueError):
        return None
    return EngineRecord.parse(found)


def remove_engine_record(mission_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        engine_file(mission_dir).unlink()
