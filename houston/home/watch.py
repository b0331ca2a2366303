"""Filesystem wake-ups for the engine loop (watchdog), never recursive, never trusted alone.

Each watched folder is watched non-recursively and every event only means "look again":
the handler calls `wake()` and nothing else, inside a catch-all so that an exception can
never kill the observer thread. Events can be lost (queue overflow), so the engine also
reconciles every few seconds. If inotify runs out of watches (ENOSPC) or cannot start, the
watcher says so once and `polling` becomes True: the engine then reconciles more often.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("houston.engine")
# watchdog logs a harmless race (an emitter reading while it is unscheduled) as an error.
logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)


_READS = frozenset({"opened", "closed_no_write"})  # watchdog's event types of a read


class _Wake:
    """A watchdog event handler that only wakes the engine, until the watcher stops."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        with contextlib.suppress(Exception):
            # A file opened or closed unwritten changes nothing; agents read the mission's
            # context.md on every attempt, and each read would cost the engine a rescan.
            if getattr(event, "event_type", None) not in _READS:
                self.watcher.on_event()


class Watcher:
    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.polling = False
        self._observer: Any = None
        self._watches: dict[Path, Any] = {}
        self._lock = threading.Lock()
        # Its own lock: watchdog calls on_event holding its observer's lock, which
        # schedule() (under self._lock) waits for.
        self._wake_lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        try:
            from watchdog.observers import Observer

            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        except Exception as exc:  # no inotify at all: fall back to reconciling
            self._fallback(exc)

    def watch(self, folder: Path) -> None:
        if self._observer is None or self.polling:
            return
        with self._lock:
            if folder in self._watches:
                return
            try:
                self._watches[folder] = self._observer.schedule(
                    _Wake(self), str(folder), recursive=False
                )
            except OSError as exc:  # ENOSPC: inotify watch limit reached
                self._fallback(exc)

    def unwatch(self, folder: Path) -> None:
        with self._lock:
            watch = self._watches.pop(folder, None)
            if watch is not None and self._observer is not None:
                with contextlib.suppress(Exception):
                    self._observer.unschedule(watch)

    def _fallback(self, exc: BaseException) -> None:
        if not self.polling:
            log.warning("filesystem notifications unavailable (%s); polling instead", exc)
        self.polling = True

    def on_event(self) -> None:
        with self._wake_lock:  # never after stop() returned: the wake-up pipe may be closed
            if not self._stopped:
                self.wake()

    def stop(self) -> None:
        """No wake-up after this returns. watchdog takes up to half a second to stop its
        threads (its inotify reader holds events that long to pair moves): they are
        stopped in the background, as daemon threads, instead of holding up the engine."""
        with self._wake_lock:
            self._stopped = True
        with self._lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            threading.Thread(
                target=_stop_observer, args=(observer,), name="watch-stop", daemon=True
            ).start()


def _stop_observer(observer: Any) -> None:
    with contextlib.suppress(Exception):
        observer.stop()
        observer.join(timeout=2)
