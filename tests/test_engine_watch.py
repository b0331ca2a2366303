"""The engine's filesystem wake-ups: a change wakes it, a read does not (agents read the
mission's context.md on every attempt), and nothing wakes it once the watcher stopped
(the wake-up pipe may be closed by then)."""

from __future__ import annotations

import threading
from pathlib import Path

from helpers.engine import wait_for
from watchdog.events import (
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileOpenedEvent,
)

from houston.home.watch import Watcher, _Wake


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.count += 1


def test_a_read_wakes_no_one_and_a_change_does() -> None:
    woke = Counter()
    handler = _Wake(Watcher(woke))
    for event in (FileOpenedEvent("/m/context.md"), FileClosedNoWriteEvent("/m/context.md")):
        handler.dispatch(event)
    assert woke.count == 0
    for change in (
        FileCreatedEvent("/m/cancel.request"),
        FileModifiedEvent("/m/x"),
        FileClosedEvent("/m/x"),
    ):
        handler.dispatch(change)
    assert woke.count == 3


def test_nothing_wakes_the_engine_once_the_watcher_stopped() -> None:
    woke = Counter()
    watcher = Watcher(woke)
    watcher.start()
    handler = _Wake(watcher)
    handler.dispatch(FileCreatedEvent("/m/a"))
    watcher.stop()
    handler.dispatch(FileCreatedEvent("/m/b"))
    assert woke.count == 1


def test_a_real_file_written_in_a_watched_folder_wakes_the_engine(tmp_path: Path) -> None:
    woke = Counter()
    watcher = Watcher(woke)
    watcher.start()
    try:
        watcher.watch(tmp_path)
        (tmp_path / "cancel.request").write_text("")
        wait_for(lambda: woke.count > 0, what="a wake-up for the new file")
    finally:
        watcher.stop()
