"""Files a killed process leaves behind, removed by the full recovery sweep and `houston gc`.

* `missions/.tmp/<id>/`: the staging folder of a `submit` killed before its rename;
* `.<name>.<random>.tmp` in a mission folder (e.g. `.status.json.x1y2.tmp`): an atomic
  write killed before its rename.

Both are removed only once older than `STALE_AFTER` (a live writer is done with them
within milliseconds), by their mtime: no process is judged dead by a clock here, only
files too old to belong to a write still in progress.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from houston.core.lifecycle import MissionState
from houston.home.layout import Home

STALE_AFTER = 300.0  # seconds


def is_stale(path: Path, now: float, stale_after: float = STALE_AFTER) -> bool:
    try:
        return now - path.lstat().st_mtime > stale_after
    except FileNotFoundError:
        return False


def is_temp_file_name(name: str) -> bool:
    """`.<name>.<suffix>.tmp`: fsio's mkstemp names and the workers' `.<name>.<pid>.tmp`."""
    return name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3


def remove_leftovers(
    home: Home, *, now: float | None = None, dry_run: bool = False, stale_after: float = STALE_AFTER
) -> list[dict[str, Any]]:
    """Remove stale staging folders and temp files; one dict per removed path."""
    now = time.time() if now is None else now
    found = [
        {"action": "removed_staging", "path": str(path)}
        for path in _stale_staging(home.tmp, now, stale_after)
    ]
    for state in MissionState:
        with contextlib.suppress(FileNotFoundError):
            for mission_id in os.listdir(home.state_dir(state)):
                folder = home.mission_dir(state, mission_id)
                found += [
                    {"action": "removed_temp_file", "path": str(path)}
                    for path in _stale_temp_files(folder, now, stale_after)
                ]
    if not dry_run:
        for item in found:
            _remove(Path(item["path"]))
    return found


def _stale_staging(tmp: Path, now: float, stale_after: float) -> list[Path]:
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return []
    return [
        tmp / name
        for name in sorted(names)
        if not name.startswith(".")
        and (tmp / name).is_dir()
        and is_stale(tmp / name, now, stale_after)
    ]


def _stale_temp_files(folder: Path, now: float, stale_after: float) -> list[Path]:
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [
        folder / name
        for name in sorted(names)
        if is_temp_file_name(name) and is_stale(folder / name, now, stale_after)
    ]


def remove_dead_writers_temp_files(folder: Path) -> None:
    """`.<name>.<pid>.tmp` files in one folder whose writer is proven dead (a recovered
    task's folder and attempt): removed without waiting."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in os.listdir(folder):
            if is_temp_file_name(name):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
