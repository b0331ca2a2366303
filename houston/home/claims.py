"""Task claims: `mkdir tasks/<t>/lock` is the claim, `lock/owner.json` names the owner.

owner.json = {"nonce", "pid", "start_token", "host", "boot_id", "since", "attempt", "slot"};
while it exists the task is running (readers take the attempt and worker slot from it). A lock
without owner.json is young, not stale (its claimer is between mkdir and write). A stale
lock is broken by exactly one recoverer, under the home's recovery FileLock: prove the
owner dead, rename the lock aside to a tombstone, re-read the nonce from the tombstone,
and only then requeue. A lock is never `rmtree`d in place (GHSA-fq56): only tombstones are.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from houston.home import fsio
from houston.home.layout import Home
from houston.home.records import OwnerRecord, ProcessRecord
from houston.home.taskfiles import write_json_fast

if TYPE_CHECKING:
    from filelock import FileLock
from houston.clock import utcnow
from houston.core.timestamps import iso


def lock_dir(task_dir: Path) -> Path:
    return task_dir / "lock"


def recovery_lock(home: Home) -> FileLock:
    from filelock import FileLock  # here: workers import this module and never need it

    home.locks.mkdir(parents=True, exist_ok=True)
    return FileLock(home.locks / "recovery.lock")


def claim_task(
    task_dir: Path | str, me: ProcessRecord, slot: int | None, attempt: int
) -> str | None:
    """Take the task's lock for the process `me` in pool slot `slot`; the nonce or None."""
    try:
        os.mkdir(f"{task_dir}/lock")  # noqa: PTH102 - str paths on the hot path
    except FileExistsError:
        return None
    nonce = os.urandom(8).hex()  # as secrets.token_hex, without its imports in a worker
    record = OwnerRecord(
        me.pid, me.start_token, me.host, me.boot_id, slot, nonce, iso(utcnow()), attempt
    )
    write_json_fast(f"{task_dir}/lock/owner.json", record.encode())
    return nonce


def _read_owner_file(folder: Path | str) -> OwnerRecord | None:
    try:
        data = fsio.read_json(f"{folder}/owner.json")
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return OwnerRecord.parse(data)


def read_owner(task_dir: Path | str) -> OwnerRecord | None:
    """Who holds the task's lock; None without a lock, or a young one (no owner.json yet)."""
    return _read_owner_file(f"{task_dir}/lock")


def has_owner(task_dir: Path | str) -> bool:
    """The lock is held and its owner named (a young lock has no owner.json yet)."""
    return os.path.isfile(f"{task_dir}/lock/owner.json")  # noqa: PTH113


def is_locked(task_dir: Path) -> bool:
    return lock_dir(task_dir).is_dir()


def _entomb(task_dir: Path, nonce: str) -> Path | None:
    """Rename the lock aside; the tombstone path, or None if the lock is gone."""
    tomb = task_dir / f".tomb-{nonce or 'none'}-{os.urandom(4).hex()}"
    try:
        os.rename(lock_dir(task_dir), tomb)
    except FileNotFoundError:
        return None
    return tomb


def release_task(
    task_dir: Path | str, nonce: str, *, check: bool = True, into: Path | str | None = None
) -> bool:
    """The owner lets go of its lock (after the result was accepted or the task requeued).

    `check=False` skips re-reading owner.json: for the owner that holds the claim in
    memory and is the only one allowed to release it while it lives. `into` = the
    attempt folder: the lock is renamed there as `claim/` (one rename, nothing deleted,
    and the attempt keeps the record of who ran it); otherwise it is entombed and removed.
    """
    if check:
        owner = read_owner(Path(task_dir))
        if owner is None or owner.nonce != nonce:
            return False
    if into is not None:
        try:
            os.rename(f"{task_dir}/lock", f"{into}/claim")
            return True
        except FileNotFoundError:
            return False
        except OSError:  # `claim/` taken (a past life of this attempt): entomb instead
            pass
    tomb = _entomb(Path(task_dir), nonce)
    if tomb is None:
        return False
    try:
        (tomb / "owner.json").unlink()
        tomb.rmdir()
    except OSError:
        _remove_tree(tomb)
    return True


def break_stale_lock(task_dir: Path, expected_nonce: str | None) -> bool:
    """Break a lock already proven dead. Call under `recovery_lock`.

    `expected_nonce` is the nonce read when death was proven (None: a lock with no owner
    file whose claimer is known dead). Returns True if this call broke it.
    """
    current = read_owner(task_dir)
    current_nonce = current.nonce if current else None
    if current_nonce != expected_nonce or not is_locked(task_dir):
        return False
    tomb = _entomb(task_dir, str(expected_nonce or ""))
    if tomb is None:
        return False
    entombed = _read_owner_file(tomb)
    entombed_nonce = entombed.nonce if entombed else None
    if entombed_nonce != expected_nonce:
        # Someone re-claimed between our read and our rename: give the lock back.
        if not lock_dir(task_dir).exists():
            with contextlib.suppress(OSError):
                os.rename(tomb, lock_dir(task_dir))
        return False
    _remove_tree(tomb)
    return True


def sweep_tombstones(task_dir: Path) -> None:
    """Remove tombstones left by a recoverer that died after the rename."""
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(task_dir):
            if name.startswith(".tomb-"):
                _remove_tree(task_dir / name)


def _remove_tree(path: Path) -> None:
    """rmtree, imported here: only recovery needs it, and a worker starts faster without
    shutil (it pulls in bz2 and lzma)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
