"""The mission list's index kept in `<home>/run/mission-index.json` between server starts.

With 10,000 missions the index takes seconds to build from 10,000 `status.json` files; one
file read back takes a fraction of that, so the first search after a start need not wait.
The file is only a hint: every row keeps the key it was read under (state, size and mtime
of its `status.json`) and COMPLETED's rows the folder's mtime, and `MissionIndex` checks
them exactly as it checks its rows in memory. A file that is missing, unreadable, from
another version or malformed in any way is ignored whole; one that cannot be written is
skipped (a read-only home stays usable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from houston.home import fsio

VERSION = 2  # bump when `listing.card` changes what a filter or a sort looks at

Key = tuple[str, int, int]
Row = dict[str, Any]
# What a filter or a sort reads of a row (`listing.matches`, `listing._sort_key`): only these
# are kept, a tenth of each status.json. A page's rows are read whole before they are shown.
SLIM = ("state", "outcome", "created", "search", "duration", "cost")


@dataclass
class Snapshot:
    """What `MissionIndex` keeps in memory, in the same shapes; rows read from a file are
    slim (`SLIM`, "id" and "packages" where known)."""

    rows: dict[str, tuple[Key, Row]] = field(default_factory=dict)
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    completed: tuple[int, dict[str, Row]] = (-1, {})


def encode(snapshot: Snapshot) -> bytes:
    """Columns, not objects: with 10,000 rows the keys would be most of the file."""
    stamp, completed = snapshot.completed
    rows = [
        [i, *key, *(row.get(k) for k in SLIM), row.get("packages")]
        for i, (key, row) in snapshot.rows.items()
    ]
    return json.dumps(
        {
            "version": VERSION,
            "rows": rows,
            "packages": {i: list(p) for i, p in snapshot.packages.items()},
            "completed_stamp": stamp,
            "completed": sorted(completed),
        },
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> Snapshot | None:
    """The snapshot, or None for anything but a well-formed file of this version."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            return None
        rows = dict(_entry(entry) for entry in raw["rows"])
        packages = {str(i): tuple(str(p) for p in found) for i, found in raw["packages"].items()}
        stamp, ids = raw["completed_stamp"], raw["completed"]
        if not isinstance(stamp, int) or not isinstance(ids, list):
            return None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not all(i in rows and rows[i][0][0] == "COMPLETED" for i in ids):
        return Snapshot(rows, packages)  # COMPLETED's rows are then stat-checked one by one
    return Snapshot(rows, packages, (stamp, {i: rows[i][1] for i in ids}))


def _entry(raw: Any) -> tuple[str, tuple[Key, Row]]:
    mission_id, key_state, size, mtime, *values, packages = raw
    row = dict(zip(SLIM, values, strict=True))
    if not (
        isinstance(mission_id, str)
        and isinstance(key_state, str)
        and type(size) is int
        and type(mtime) is int
        and isinstance(row["state"], str)
        and isinstance(row["search"], str)
    ):
        raise TypeError("malformed row")
    row["id"] = mission_id
    if isinstance(packages, list):
        row["packages"] = [str(p) for p in packages]
    return mission_id, ((key_state, size, mtime), row)


def load(path: Path) -> Snapshot | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return decode(data)


def save(path: Path, snapshot: Snapshot) -> bool:
    """Write atomically (readers see the old file or the new one); False if it could not
    be written. Not fsynced: after a crash the file is at worst missing or stale, and
    stale rows fail their checks."""
    if not path.parent.is_dir():  # run/ is made private by `Home.ensure`, never here
        return False
    try:
        with fsio.no_waiting():  # a full disk skips this hint; it never waits for room
            fsio.write_bytes_atomic(path, encode(snapshot), durable=False)
    except OSError:
        return False
    return True
