"""The engines' records (docs/formats.md): a mission's `engine.json`, the engine that
claimed it while EXECUTING (written right after the claim, removed just before the move
out; read by the recovery sweep, which takes a dead engine's missions over, and by `houston
run` following another engine), and `run/engine-<pid>.json`, each engine running on this
machine (written at its start, removed at its exit; read by recovery and `houston doctor`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.layout import Home, engine_file
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


@dataclass(frozen=True, slots=True)
class RunningEngine:
    """run/engine-<pid>.json: the engine's process, since when it runs, its `workers`
    and the `missions` it was given (None: any)."""

    pid: int
    start_token: str | None
    host: str | None
    boot_id: str | None
    since: str | None
    workers: int | None
    missions: tuple[str, ...] | None

    def encode(self) -> dict[str, object]:
        process = ProcessRecord(self.pid, self.start_token, self.host, self.boot_id)
        missions = None if self.missions is None else list(self.missions)
        return {
            **process.encode(),
            "since": self.since,
            "workers": self.workers,
            "missions": missions,
        }

    @classmethod
    def parse(cls, data: Any) -> RunningEngine | None:
        """None for what is not an object with a pid; a record without `start_token`
        names a process that never counts as alive (as the liveness check reads it)."""
        if not isinstance(data, dict):
            return None
        process = ProcessRecord.parse({"start_token": None, **data})
        if process is None:
            return None
        since, workers, missions = data.get("since"), data.get("workers"), data.get("missions")
        return cls(
            process.pid,
            process.start_token,
            process.host,
            process.boot_id,
            None if since is None else str(since),
            workers if type(workers) is int else None,
            tuple(str(m) for m in missions) if isinstance(missions, list) else None,
        )


def write_running_engine(home: Home, record: RunningEngine) -> None:
    fsio.write_json_atomic(home.engine_run_file(record.pid), record.encode(), durable=False)


def remove_running_engine(home: Home, pid: int) -> None:
    home.engine_run_file(pid).unlink(missing_ok=True)


def running_engines(home: Home) -> list[tuple[Path, RunningEngine | None]]:
    """Each `run/engine-<pid>.json` with its record (None: unreadable or no engine's)."""
    found: list[tuple[Path, RunningEngine | None]] = []
    for path in home.engine_run_files():
        try:
            data = fsio.read_json(path)
        except (OSError, ValueError):
            data = None
        found.append((path, RunningEngine.parse(data)))
    return found
