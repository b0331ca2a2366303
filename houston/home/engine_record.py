"""`engine.json`: the engine that claimed an EXECUTING mission (docs/formats.md). Written
right after the claim, removed just before the move out; read by the recovery sweep (a
dead engine's missions are taken over) and by `houston run` following another engine."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.layout import engine_file


class EngineRecord(TypedDict):
    pid: int
    start_token: str  # the process's start time in clock ticks since boot, with the boot id
    host: str
    boot_id: str
    since: str  # when it claimed the mission


def write_engine_record(mission_dir: Path, identity: Mapping[str, Any], now: datetime) -> None:
    """Record the claiming engine (`identity`: pid, start_token, host, boot_id)."""
    record: EngineRecord = {
        "pid": int(identity["pid"]),
        "start_token": str(identity["start_token"]),
        "host": str(identity["host"]),
        "boot_id": str(identity["boot_id"]),
        "since": iso(now),
    }
    fsio.write_json_atomic(engine_file(mission_dir), record, durable=False)


def read_engine_record(mission_dir: Path) -> dict[str, Any] | None:
    """The record as written, or None when there is none (or it does not parse); other
    errors (permission denied) are raised. Its fields are judged by the liveness check,
    which refuses what it cannot read, so a hand edit is not second-guessed here."""
    try:
        found = fsio.read_json(engine_file(mission_dir))
    except (FileNotFoundError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def remove_engine_record(mission_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        engine_file(mission_dir).unlink()
