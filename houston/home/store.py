"""The filesystem mission store: creation under `.tmp/`, one rename per transition.

The folder a mission sits in is the truth about its state. `status.json` is a summary
written after each move and `transitions.jsonl` is the audit trail; both are written
under a per-mission stripe lock (an OS flock in `run/locks/`, released by the kernel if
the holder dies) so that two processes moving the same mission keep the trail in order.
A mover that finds the trail behind the folder (a crash between rename and append, or a
mission moved by hand) appends a `recovered` repair entry first, so the trail always
chains from -> to and ends at the folder's state.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import string
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from houston.clock import utcnow
from houston.core.errors import AmbiguousError, ConflictError, NotFoundError, UsageError
from houston.core.ids import make_mission_id
from houston.core.lifecycle import MissionState, Reason, check_transition
from houston.home import fsio, killpoints, moves
from houston.home.layout import (
    Home,
    context_file,
    directives_dir,
    outputs_dir,
    spec_file,
    status_file,
    tasks_dir,
    trail_file,
)
from houston.home.status import MissionStatus, encode_status, new_status, parse_status
from houston.home.trail import TransitionEntry, record_transition, transition_entry

LOCK_STRIPES = 64
NAME_MAX = 255  # bytes in one path part on Linux filesystems
LOCK_PATIENCE = 10.0  # seconds a command waits for a mission's lock before giving up
STATE_ORDER = (
    MissionState.PLANNING,
    MissionState.COMMITTED,
    MissionState.EXECUTING,
    MissionState.COMPLETED,
)
# How often a reader chases a mission that moved while it was being read.
_CHASE = 4
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class MissionRef:
    id: str
    state: MissionState
    path: Path


def random_suffix() -> str:
    """The random part of a new mission id: four lowercase letters or digits."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(4))


class MissionStore:
    def __init__(self, home: Home) -> None:
        self.home = home

    # -- creation -------------------------------------------------------------------

    def create(
        self,
        spec_bytes: bytes,
        name: str,
        *,
        context: str = "",
        summary: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> MissionRef:
        """Write a whole mission under `.tmp/` and rename it into PLANNING.

        `summary` holds extra status.json fields known at submission (e.g. task counts).
        """
        now = now or utcnow()
        mission_id, staging = self._reserve_id(name, now)
        try:
            self._fill(staging, mission_id, spec_bytes, name, context, summary or {}, now)
            target = self.home.mission_dir(MissionState.PLANNING, mission_id)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsio.fsync_dir(target.parent)
        fsio.fsync_dir(self.home.tmp)
        return MissionRef(mission_id, MissionState.PLANNING, target)

    def _reserve_id(self, name: str, now: datetime) -> tuple[str, Path]:
        for _ in range(16):
            mission_id = make_mission_id(name, now, random_suffix())
            staging = self.home.tmp / mission_id
            try:
                staging.mkdir()
            except FileExistsError:
                continue
            if self.locate_or_none(mission_id) is None:
                return mission_id, staging
            staging.rmdir()
        raise ConflictError("could not find a free mission id", where=str(self.home.tmp))

    def _fill(
        self,
        folder: Path,
        mission_id: str,
        spec: bytes,
        name: str,
        context: str,
        summary: Mapping[str, Any],
        now: datetime,
    ) -> None:
        for sub in mission_subfolders(folder):
            sub.mkdir(parents=True)
        # The folder is private until renamed into PLANNING: plain writes, each fsynced so
        # that a crash right after the rename cannot leave an empty mission.yaml.
        fresh = new_status(mission_id, name, now)
        status = parse_status({**fresh, **summary}, mission_id, MissionState.PLANNING) or fresh
        fsio.write_new(spec_file(folder), spec)
        fsio.write_new(context_file(folder), context.encode())
        fsio.write_new(status_file(folder), encode_status(status))
        entry = transition_entry(None, MissionState.PLANNING, Reason.USER_REQUEST, None, now)
        fsio.append_line(trail_file(folder), entry, durable=True)
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
        if not is_plain_name(prefix):
            raise UsageError(f"{prefix!r} is not a mission id", fix="see `houston ls`")
        if len(prefix.encode()) > NAME_MAX:  # the filesystem would answer ENAMETOOLONG
            raise UsageError(
                f"a mission id of {len(prefix)} characters is too long "
                f"(ids are folder names, at most {NAME_MAX} bytes)",
                fix="see `houston ls` for the ids there are",
            )
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

    # -- reading --------------------------------------------------------------------

    def status(self, ref: MissionRef) -> dict[str, Any]:
        """`summary` as a plain JSON object, for readers that pass it on whole."""
        return dict(self.summary(ref))

    def summary(self, ref: MissionRef) -> MissionStatus:
        """status.json, with `id` and `state` always taken from the folder (the truth).

        If the mission moves while it is read, the read follows it to its new folder.
        """
        for _ in range(_CHASE):
            try:
                found: object = fsio.read_json(status_file(ref.path))
            except FileNotFoundError:
                if ref.path.is_dir():
                    break  # a mission dropped in by hand: no status.json yet
                moved = self.locate_or_none(ref.id)
                if moved is None:
                    break
                ref = moved
                continue
            except (ValueError, OSError):
                break
            status = parse_status(found, ref.id, ref.state)
            if status is not None:
                return status
            break
        fresh = new_status(ref.id, ref.id, None)
        fresh["state"] = ref.state.value
        return fresh

    def transitions(self, ref: MissionRef) -> list[dict[str, Any]]:
        for _ in range(_CHASE):
            if ref.path.is_dir():
                return fsio.read_lines(trail_file(ref.path))
            moved = self.locate_or_none(ref.id)
            if moved is None:
                break
            ref = moved
        return []

    # -- moving ---------------------------------------------------------------------

    @contextlib.contextmanager
    def stripe_lock(self, mission_id: str) -> Iterator[None]:
        """Hold the OS flock guarding this mission's moves and summary writes.

        A blocking `flock` wakes the waiter as soon as the holder releases (no polling);
        the kernel releases it if the holder dies. Not re-entrant: never nest it.
        """
        stripe = zlib.crc32(mission_id.encode()) % LOCK_STRIPES
        self.home.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.home.locks / f"mission-{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fsio.has_fault_waiter():
                fcntl.flock(fd, fcntl.LOCK_EX)  # an engine: wait as long as it takes
            else:
                _flock_within(fd, LOCK_PATIENCE, mission_id)
            yield
        finally:
            os.close(fd)  # closing the descriptor drops the flock

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
            # Intent first: a mover killed between the rename and the record leaves it
            # for the recovery sweep, which finishes the record (houston.home.moves).
            entry = transition_entry(source, target, reason, outcome, now, detail)
            intent = moves.intend(self.home, mission_id, entry)
            try:
                os.rename(src, dst)
            except OSError as exc:
                moves.forget(intent)
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    raise
                current = self.locate_or_none(mission_id)
                state = current.state.value if current else "nowhere"
                raise ConflictError(
                    f"mission {mission_id} is not in {source} (it is {state})",
                    fix="someone else moved it first; look again with `houston show`",
                ) from exc
            killpoints.reached("move.renamed")
            fsio.fsync_dir(dst.parent)
            fsio.fsync_dir(src.parent)
            self.record(dst, entry, now)
            moves.forget(intent)
        return MissionRef(mission_id, target, dst)

    def record(self, folder: Path, entry: TransitionEntry, now: datetime) -> None:
        """Record a move's `entry` in the mission's trail and status.json (houston.home.trail).
        Call under the mission's stripe lock."""
        record_transition(folder, entry, now)

    def update_status(self, ref: MissionRef, **fields: Any) -> MissionStatus:
        """Merge summary fields (counts, usage) into status.json under the stripe lock.

        The mission is located again under the lock, so a move by another process just
        before the call is followed rather than lost. `id` and `state` stay the folder's.
        Raises NotFoundError if the mission no longer exists.
        """
        return fsio.persist(lambda: self._merge_status(ref, fields), status_file(ref.path))

    def _merge_status(self, ref: MissionRef, fields: dict[str, Any]) -> MissionStatus:
        # A full disk must not be waited out under the lock (others would hang on it):
        # fail here, let go, and let `persist` above wait and merge again.
        with self.stripe_lock(ref.id), fsio.no_waiting():
            current = self.locate(ref.id)
            known = self.summary(current)
            merged = parse_status({**known, **fields}, current.id, current.state) or known
            fsio.write_json_atomic(status_file(current.path), merged, durable=False)
        return merged

    # -- listing (last: the method name `list` shadows the builtin in this class) --

    def page(
        self, states: tuple[MissionState, ...] = STATE_ORDER, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[MissionRef], int]:
        """One page, newest first, and how many missions there are in `states` in all."""
        # A mission moving during the listing can show up twice: keep its later state.
        found = {i: s for s in states for i in self.ids_in(s)}
        chosen = sorted(found, reverse=True)[offset : offset + limit]
        refs = [MissionRef(i, found[i], self.home.mission_dir(found[i], i)) for i in chosen]
        return refs, len(found)

    def list(
        self, states: tuple[MissionState, ...] = STATE_ORDER, *, limit: int = 50, offset: int = 0
    ) -> list[MissionRef]:
        """Newest first (ids sort by creation time), one page. Reads folder names only."""
        return self.page(states, limit=limit, offset=offset)[0]

    def count(self, state: MissionState) -> int:
        return len(self.ids_in(state))


def mission_subfolders(folder: Path) -> tuple[Path, ...]:
    return directives_dir(folder), tasks_dir(folder), outputs_dir(folder)


def complete_folder(folder: Path) -> None:
    """The sub-folders every mission has: `create` makes them, a hand-made mission (a
    folder holding only mission.yaml) may lack them."""
    for sub in mission_subfolders(folder):
        sub.mkdir(parents=True, exist_ok=True)


def _flock_within(fd: int, seconds: float, mission_id: str) -> None:
    """Take the flock, or give up after `seconds` (held for milliseconds normally; a
    holder that keeps it is stuck, e.g. an engine paused on a full disk)."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.01) + 1):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
    raise ConflictError(
        f"mission {mission_id} is held by another process for more than {seconds:g}s",
        fix="an engine may be paused (disk full?): see its output, free space, try again",
    )


def is_plain_name(text: str) -> bool:
    """True for a single folder name that cannot escape the state folders."""
    return bool(text) and not text.startswith(".") and not any(c in text for c in "/\\\0")
