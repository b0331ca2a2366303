"""Retention (`houston gc`): old event segments and finished missions leave the home.

A finished mission is first renamed out of COMPLETED into `.tmp/<id>.gc-<pid>` (one
atomic rename under its stripe lock, so readers never see half a mission and no move
interleaves), then deleted there. Its folder, and so its trail, is gone with it: what
records the deletion is a `mission.state` event (`state: deleted`) in the event log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from houston.core.lifecycle import MissionState
from houston.core.timestamps import parse_epoch
from houston.home.events import EventLog
from houston.home.store import MissionStore

DELETED = "deleted"  # the `state` of the event recording a deleted mission


@dataclass(frozen=True)
class Collected:
    """What a collection removed (or, dry, would remove)."""

    missions: list[str]
    event_segments: list[str]


def collect(
    store: MissionStore,
    *,
    now: float,
    keep_seconds: float,
    max_event_bytes: int | None = None,
    dry_run: bool = False,
) -> Collected:
    """Remove the event segments last written, and the COMPLETED missions finished, more
    than `keep_seconds` before `now` (epoch seconds); `dry_run` removes nothing."""
    log = EventLog(store.home.events)
    missions = old_missions(store, now - keep_seconds)
    if dry_run:
        segments = [p for _s, p in log.segments()[:-1] if p.stat().st_mtime < now - keep_seconds]
        return Collected(missions, [str(p) for p in segments])
    try:
        removed = log.prune(now=now, keep_seconds=keep_seconds, max_bytes=max_event_bytes)
        for mission_id in missions:
            if delete_mission(store, mission_id):
                log.append(
                    "mission.state",
                    mission=mission_id,
                    data={"state": DELETED, "from": MissionState.COMPLETED.value, "reason": "gc"},
                )
    finally:
        log.close()
    return Collected(missions, [str(p) for p in removed])


def old_missions(store: MissionStore, cutoff: float) -> list[str]:
    """COMPLETED missions that finished before `cutoff` (epoch seconds)."""
    found = []
    for ref in store.list((MissionState.COMPLETED,), limit=10**9):
        status = store.summary(ref)
        finished = parse_epoch(status.get("finished") or status.get("updated"))
        if finished is None:
            with contextlib.suppress(OSError):
                finished = ref.path.stat().st_mtime
        if finished is not None and finished < cutoff:
            found.append(ref.id)
    return found


def delete_mission(store: MissionStore, mission_id: str) -> bool:
    """Take a finished mission out of COMPLETED in one rename (under its stripe lock, so
    no concurrent move interleaves), then delete it from `.tmp/`. False if it was gone."""
    home = store.home
    source = home.mission_dir(MissionState.COMPLETED, mission_id)
    doomed = home.tmp / f"{mission_id}.gc-{os.getpid()}"
    with store.stripe_lock(mission_id):
        try:
            os.rename(source, doomed)
        except FileNotFoundError:
            return False  # retried or removed meanwhile
    shutil.rmtree(doomed, ignore_errors=True)
    return True
