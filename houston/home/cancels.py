"""`cancel.request`: a cancel asked of a running mission (docs/formats.md). Written once
by `actions.request_cancel` (the first request stays), seen by the engine running the
mission, removed by `houston retry`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypedDict

from houston.core.timestamps import iso
from houston.home import fsio
from houston.home.layout import cancel_request_file


class CancelRequest(TypedDict):
    ts: str
    by: str  # who asked: `cli`, `http`, `houston run stopped` ...


def write_cancel_request(mission_dir: Path, by: str, now: datetime) -> None:
    """Leave a cancel request, unless one is there already (the first one stays).
    Call under the mission's stripe lock."""
    path = cancel_request_file(mission_dir)
    if not path.exists():
        record: CancelRequest = {"ts": iso(now), "by": by}
        fsio.write_json_atomic(path, record)


def cancel_requested_by(mission_dir: Path) -> str | None:
    """Who asked the mission to stop (`someone` when the request does not say); None
    when no cancel was asked."""
    try:
        found = fsio.read_json(cancel_request_file(mission_dir))
    except (OSError, ValueError):
        return None
    by = found.get("by") if isinstance(found, dict) else None
    return str(by or "someone")


def cancel_requested(mission_dir: Path) -> bool:
    return cancel_request_file(mission_dir).exists()


def withdraw_cancel_request(mission_dir: Path) -> None:
    cancel_request_file(mission_dir).unlink(missing_ok=True)
