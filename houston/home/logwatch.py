"""Wake-ups from the filesystem: inotify (through watchdog) on a few folders, never
recursive (a recursive watch turns one folder move into one event per file inside it).
Any change means "look again"; the caller reads from its own position and still
reconciles every few seconds, because events can be lost.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from houston.home.events import Listener


class LogWatcher:
    """Calls `wake()` (from the watchdog thread) when a file in `folder` changes.
    `also(folder, wake)` adds more folders to the same observer thread."""

    def __init__(self, folder: Path, wake: Listener) -> None:
        self.folder = folder
        self.wake = wake
        self._folders: list[tuple[Path, Listener]] = [(folder, wake)]
        self._observer: Any = None

    def also(self, folder: Path, wake: Listener) -> LogWatcher:
        self._folders.append((folder, wake))
        return self

    def start(self) -> bool:
        """Start watching; False if the platform refused (the caller keeps reconciling)."""
        from watchdog.observers import Observer

        observer = Observer()
        try:
            for folder, wake in self._folders:
                folder.mkdir(parents=True, exist_ok=True)
                observer.schedule(_handler(wake), str(folder), recursive=False)
            observer.start()
        except OSError:  # inotify limits (ENOSPC): reconcile alone
            return False
        self._observer = observer
        return True

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None


def _handler(wake: Listener) -> Any:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class _Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            with contextlib.suppress(Exception):  # an exception would kill the thread
                wake()

    return _Handler()
