"""The filesystem mission store: creation under `.tmp/`, one rename per transition.

The folder a mission sits in is the truth about its state. `status.json` is a summary
written after each move and `transitions.jsonl` is the audit trail; both are written
under a per-mission stripe lock (an OS flock in `run/locks/`, released by the kernel if
the holder dies) so that two processes moving the same mission keep the trail in order.
A mover that finds the trail behind the folder (a crash between rename and append)
appends a `recovered` repair entry first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from houston import fsio
from houston.errors import AmbiguousError, ConflictError, NotFoundError, UsageError
from houston.home import Home
from houston.ids import MISSION_ID, make_mission_id, random_suffix
from houston.lifecycle import MissionState, Outcome, Reason, check_transition

LOCK_STRIPES = 64
STATE_ORDER = (
    MissionState.PLANNING,
    MissionState.COMMITTED,
    MissionState.EXECUTING,
    MissionState.COMPLETED,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class MissionRef:
    id: str
    state: MissionState
    path: Path


class MissionStore:
    def __init__(self, home: Home) -> None:
        self.home = home

    # -- creation -------------------------------------------------------------------

    def create(
        self, spec_bytes: bytes, name: str, *, context: str = "", now: datetime | None = None
    ) -> MissionRef:
        """Write a whole mission under `.tmp/` and rename it into PLANNING."""
        now = now or utcnow()
        for _ in range(16):
            mission_id = make_mission_id(name, now, random_suffix())
            staging = self.home.tmp / mission_id
            try:
                staging.mkdir()
            except FileExistsError:
                continue
            if self.locate_or_none(mission_id) is None:
                break
            staging.rmdir()
        else:
            raise ConflictError("could not find a free mission id", where=str(self.home.tmp))
        try:
            self._fill(staging, mission_id, spec_bytes, name, context, now)
            target = self.home.mission_dir(MissionState.PLANNING, mission_id)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsio.fsync_dir(target.parent)
        return MissionRef(mission_id, MissionState.PLANNING, target)

    def _fill(
        self, folder: Path, mission_id: str, spec: bytes, name: str, context: str, now: datetime
    ) -> None:
        for sub in ("blackboard/directives", "tasks", "outputs"):
            (folder / sub).mkdir(parents=True)
        fsio.write_bytes_atomic(folder / "mission.yaml", spec, durable=False)
        fsio.write_bytes_atomic(folder / "context.md", context.encode(), durable=False)
        status = new_status(mission_id, name, now)
        fsio.write_json_atomic(folder / "status.json", status, durable=False)
        entry = transition_entry(None, MissionState.PLANNING, Reason.USER_REQUEST, None, now)
        fsio.append_line(folder / "transitions.jsonl", entry, durable=True)
        fsio.fsync_dir(folder)

    # -- finding --------------------------------------------------------------------

    def locate_or_none(self, mission_id: str) -> MissionRef | None:
        # A mission may move while we look: look twice through all folders.
        for _ in range(2):
            for state in STATE_ORDER:
                path = self.home.mission_dir(state, mission_id)
                if path.is_dir():
                    return MissionRef(mission_id, state, path)
        return None

    def locate(self, mission_id: str) -> MissionRef:
        ref = self.locate_or_none(mission_id)
        if ref is None:
            raise NotFoundError(
                f"no mission {mission_id}", where=str(self.home.missions), fix="see `houston ls`"
            )
        return ref

    def resolve(self, prefix: str) -> MissionRef:
        """A full id or a unique prefix of one."""
        if not prefix or "/" in prefix or prefix.startswith("."):
            raise UsageError(f"{prefix!r} is not a mission id", fix="see `houston ls`")
        exact = self.locate_or_none(prefix)
        if exact is not None:
            return exact
        matches = sorted({i for i in self.all_ids() if i.startswith(prefix)})
        if not matches:
            raise NotFoundError(
                f"no mission id starts with {prefix!r}",
                where=str(self.home.missions),
                fix="see `houston ls`",
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
            raise AmbiguousError(
                f"{prefix!r} matches {len(matches)} missions: {shown}",
                fix="type more of the id",
            )
        return self.locate(matches[0])

    def ids_in(self, state: MissionState) -> list[str]:
        try:
            names = os.listdir(self.home.state_dir(state))
        except FileNotFoundError:
            return []
        return [n for n in names if not n.startswith(".")]

    def all_ids(self) -> Iterator[str]:
        for state in STATE_ORDER:
            yield from self.ids_in(state)

    def list(
        self, states: tuple[MissionState, ...] = STATE_ORDER, *, limit: int = 50, offset: int = 0
    ) -> list[MissionRef]:
        """Newest first (ids sort by creation time), one page."""
        refs = [
            MissionRef(i, s, self.home.mission_dir(s, i)) for s in states for i in self.ids_in(s)
        ]
        refs.sort(key=lambda r: r.id, reverse=True)
        return refs[offset : offset + limit]

    def count(self, state: MissionState) -> int:
        return len(self.ids_in(state))

    # -- reading --------------------------------------------------------------------

    def status(self, ref: MissionRef) -> dict[str, Any]:
        """status.json, with `state` always taken from the folder (the truth)."""
        try:
            status: dict[str, Any] = fsio.read_json(ref.path / "status.json")
        except (FileNotFoundError, ValueError):
            # A mission dropped in by hand, or one that just moved: summarise what we know.
            status = new_status(ref.id, ref.id, None)
        status["id"] = ref.id
        status["state"] = ref.state.value
        return status

    def transitions(self, ref: MissionRef) -> list[dict[str, Any]]:
        return fsio.read_lines(ref.path / "transitions.jsonl")

    # -- moving ---------------------------------------------------------------------

    def stripe_lock(self, mission_id: str) -> FileLock:
        stripe = zlib.crc32(mission_id.encode()) % LOCK_STRIPES
        self.home.locks.mkdir(parents=True, exist_ok=True)
        return FileLock(self.home.locks / f"mission-{stripe:02d}.lock")

    def move(
        self,
        mission_id: str,
        source: MissionState,
        target: MissionState,
        reason: Reason,
        *,
        detail: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> MissionRef:
        """Move one mission by one rename. Raises ConflictError if it is not in `source`."""
        outcome = check_transition(source, target, reason)
        now = now or utcnow()
        src = self.home.mission_dir(source, mission_id)
        dst = self.home.mission_dir(target, mission_id)
        with self.stripe_lock(mission_id):
            if dst.exists():
                raise ConflictError(f"mission {mission_id} is already in {target}")
            try:
                os.rename(src, dst)
            except FileNotFoundError as exc:
                current = self.locate_or_none(mission_id)
                state = current.state if current else "nowhere"
                raise ConflictError(
                    f"mission {mission_id} is not in {source} (it is {state})",
                    fix="someone else moved it first; look again with `houston show`",
                ) from exc
            fsio.fsync_dir(dst.parent)
            fsio.fsync_dir(src.parent)
            self._record(dst, source, target, reason, outcome, detail, now)
        return MissionRef(mission_id, target, dst)

    def _record(
        self,
        folder: Path,
        source: MissionState,
        target: MissionState,
        reason: Reason,
        outcome: Outcome | None,
        detail: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        trail = folder / "transitions.jsonl"
        last = fsio.read_lines(trail)
        last_to = last[-1].get("to") if last else None
        if last_to is not None and last_to != source.value:
            repair = transition_entry(last_to, source, Reason.RECOVERED, None, now)
            repair["repair"] = True
            fsio.append_line(trail, repair)
        entry = transition_entry(source, target, reason, outcome, now, detail)
        fsio.append_line(trail, entry, durable=True)
        self._update_status(folder, target, reason, outcome, now)

    def _update_status(
        self,
        folder: Path,
        target: MissionState,
        reason: Reason,
        outcome: Outcome | None,
        now: datetime,
    ) -> None:
        path = folder / "status.json"
        try:
            status: dict[str, Any] = fsio.read_json(path)
        except (FileNotFoundError, ValueError):
            status = new_status(folder.name, folder.name, now)
        status.update(state=target.value, reason=reason.value, updated=iso(now))
        if target is MissionState.COMPLETED:
            status.update(outcome=outcome.value if outcome else None, finished=iso(now))
        else:
            status.update(outcome=None, finished=None)
        if target is MissionState.EXECUTING and not status.get("started"):
            status["started"] = iso(now)
        fsio.write_json_atomic(path, status)

    def update_status(self, ref: MissionRef, **fields: Any) -> dict[str, Any]:
        """Merge summary fields (counts, usage) into status.json under the stripe lock."""
        with self.stripe_lock(ref.id):
            status = self.status(ref)
            status.update(fields)
            with contextlib.suppress(FileNotFoundError):
                fsio.write_json_atomic(ref.path / "status.json", status, durable=False)
        return status


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
        "counts": {"total": 0, "pending": 0, "running": 0, "succeeded": 0, "failed": 0},
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


def looks_like_mission_id(name: str) -> bool:
    return bool(MISSION_ID.match(name))
