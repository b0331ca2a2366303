"""The disk-full scenario of bench/chaos.py: a small real filesystem and a filler.

The home goes on a small filesystem of its own (an ext4 image on a loop device, a real
disk's rules: a full one refuses mkdir too; or a tmpfs), mounted as tests/test_envfault.py
does (needs root). While the missions run, a thread fills it to ENOSPC, keeps it full for
a few seconds (topping it up: Houston frees blocks as it deletes temp files), frees it,
waits, and starts again, until it is told to stop.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import table


def add_disk_full_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--disk-full",
        action="store_true",
        help="home on a small filesystem filled to ENOSPC now and then (root)",
    )
    parser.add_argument("--fs", choices=["ext4", "tmpfs"], default="ext4")
    parser.add_argument("--fs-mib", type=int, default=64, help="its size")
    parser.add_argument("--full-seconds", type=float, default=5.0, help="each fill held")
    parser.add_argument("--free-seconds", type=float, default=5.0, help="between fills")


@contextlib.contextmanager
def small_filesystem(mount_point: Path, kind: str, mib: int) -> Iterator[Path]:
    """Mount a `mib` MiB filesystem of `kind` (ext4 or tmpfs) at mount_point; unmount after."""
    mount_point.mkdir(mode=0o755)
    image = mount_point.with_suffix(".img")
    if kind == "ext4":
        with image.open("wb") as f:
            f.truncate(mib * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
        argv = ["mount", "-o", "loop", str(image), str(mount_point)]
    else:
        argv = ["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0755", "tmpfs", str(mount_point)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"cannot mount a {kind} for --disk-full (run as root): {done.stderr.strip()}"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()
        image.unlink(missing_ok=True)


def fill(path: Path) -> int:
    """Append to `path` until the filesystem refuses even one byte; return bytes written.
    Smaller and smaller writes take the last partial blocks too."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            chunk = b"\0" * size
            for _ in range(100_000):  # bounded: far more than the filesystem holds
                try:
                    written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return written


@dataclass
class Filler:
    """Fills `folder`'s filesystem for `full_s` seconds, frees it for `free_s`, again."""

    folder: Path
    full_s: float
    free_s: float
    fills: int = 0
    full_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="filler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Free the space and end the thread (the filler file is gone when this returns)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        (self.folder / "filler").unlink(missing_ok=True)

    def _run(self) -> None:
        path = self.folder / "filler"
        try:
            while not self._stop.wait(self.free_s):
                self.fills += 1
                since = time.monotonic()
                while time.monotonic() - since < self.full_s and not self._stop.is_set():
                    fill(path)  # again and again: Houston deletes files while it waits
                    self._stop.wait(0.2)
                path.unlink(missing_ok=True)
                self.full_seconds += time.monotonic() - since
        except OSError as exc:  # the bench reports it rather than dying quietly
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            path.unlink(missing_ok=True)


def log_counts(logs: list[Path]) -> dict[str, int]:
    """How often the engines paused (their `paused:` lines) and workers waited for space."""
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.exists())
    lines = [line.strip() for line in text.splitlines()]
    return {
        "engine pauses": sum(line.startswith("paused:") for line in lines),
        "worker waits for space": sum("waits for disk space" in line for line in lines),
    }


def interrupted_by_full_disk(missions_root: Path) -> int:
    """Attempts recorded as interrupted by the full disk (run again, retries untouched)."""
    count = 0
    for path in missions_root.glob("*/*/tasks/*/attempts/*/exit.json"):
        with contextlib.suppress(OSError, ValueError):
            count += "interrupted: no space" in path.read_text()
    return count


def disk_full_counts(filler: Filler, logs: list[Path], missions_root: Path) -> dict[str, Any]:
    return {
        **log_counts(logs),
        "fills": filler.fills,
        "filler errors": filler.errors,
        "seconds full": round(filler.full_seconds, 1),
        "attempts interrupted by it": interrupted_by_full_disk(missions_root),
    }


def report_disk_full(result: dict[str, Any], kind: str, mib: int) -> None:
    print(
        f"disk full: {kind} of {mib} MiB, filled {result['fills']}x, "
        f"{result['seconds full']} s full in all"
    )
    columns = ["engine pauses", "worker waits for space", "attempts interrupted by it"]
    print(table(columns, [[result[c] for c in columns]]))
