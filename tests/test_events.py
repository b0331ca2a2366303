"""The event log: ids, resume, torn tails, rotation, two writers, retention, wake-ups."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from houston.home.events import (
    EventLog,
    EventTail,
    add_listener,
    encode_event,
    parse_chunk_raw,
    remove_listener,
)
from houston.home.logwatch import LogWatcher


def test_encode_refuses_types_outside_the_closed_set() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        encode_event(0, 0.0, "mission.exploded", None, None, None, {})


def test_parse_chunk_skips_torn_and_foreign_lines() -> None:
    good = encode_event(0, 1.0, "usage", "m", None, None, {"tokens": 1})
    foreign = b'{"id": 5}\n'
    torn = b'{"id": 99, "ty'
    events, end = parse_chunk_raw(good + foreign + torn, 0)
    assert [e["id"] for e, _raw in events] == [0]
    assert events[0][1] == good.rstrip(b"\n")
    assert end == len(good) + len(foreign)


def test_ids_are_byte_offsets_and_resume_after_any_id(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    ids = [log.append("task.state", mission="m", task=f"t{i}", data={"i": i}) for i in range(5)]
    assert ids[0] == 0 and ids == sorted(ids) and len(set(ids)) == 5
    assert [e["id"] for e in log.read()] == ids
    assert [e["data"]["i"] for e in log.read(after=ids[2])] == [3, 4]
    assert log.head() == log.last_id() + 1
    assert list(log.read(after=log.last_id())) == []
    assert [e["id"] for e in log.read(limit=2)] == ids[:2]


def test_a_torn_tail_is_skipped_and_never_swallows_the_next_event(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    first = log.append("usage", data={"n": 1})
    segment = log.segments()[-1][1]
    with open(segment, "ab") as f:
        f.write(b'{"id": 12345, "type": "usa')  # a writer died here
    assert [e["id"] for e in log.read()] == [first]
    second = EventLog(tmp_path).append("usage", data={"n": 2})
    assert [e["data"]["n"] for e in log.read()] == [1, 2]
    assert [e["id"] for e in log.read(after=first)] == [second]


def test_rotation_keeps_ids_global_and_tail_crosses_segments(tmp_path: Path) -> None:
    log = EventLog(tmp_path, segment_bytes=300)
    tail = EventTail(log)
    ids = [log.append("attempt.log", data={"line": "x" * 40, "i": i}) for i in range(12)]
    assert len(log.segments()) > 2
    assert {start for start, _ in log.segments()} <= set(ids)  # a segment starts at an event
    assert [e["id"] for e in tail.poll()] == ids
    more = log.append("attempt.log", data={"i": 12})
    assert [e["id"] for e in tail.poll()] == [more]
    assert tail.poll() == []


def test_tail_with_a_limit_resumes_exactly(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    ids = [log.append("usage", data={"i": i}) for i in range(7)]
    tail = EventTail(log)
    got = tail.poll(limit=3) + tail.poll(limit=3) + tail.poll(limit=3)
    assert [e["id"] for e in got] == ids


def test_tail_reads_a_window_of_bytes_at_a_time_and_misses_nothing(tmp_path: Path) -> None:
    log = EventLog(tmp_path, segment_bytes=2000)
    sizes = [10, 300, 10, 900, 10, 10, 50, 10, 10, 10, 400, 10] * 3  # 900: longer than a window
    ids = [log.append("attempt.log", data={"line": "x" * n, "i": i}) for i, n in enumerate(sizes)]
    assert len(log.segments()) > 3
    tail = EventTail(log)
    got: list[int] = []
    for _ in range(200):  # bounded: each call returns at least one event while any is left
        batch = tail.poll_raw(max_bytes=256)
        if not batch:
            break
        lengths = [len(raw) + 1 for _e, raw in batch]
        assert sum(lengths) <= 2 * max(256, *lengths)  # a longer line widens the window
        got += [event["id"] for event, _raw in batch]
    assert got == ids
    later = log.append("usage", data={"after": True})
    assert [e["id"] for e, _ in tail.poll_raw(max_bytes=256)] == [later]


_WRITER = """
import sys
from pathlib import Path
from houston.home.events import EventLog
log = EventLog(Path(sys.argv[1]), segment_bytes=4096)
for i in range(int(sys.argv[3])):
    log.append("usage", mission=sys.argv[2], data={"i": i})
"""


@pytest.mark.process
def test_two_processes_appending_get_distinct_increasing_ids(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name, "300"])
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    events = list(EventLog(tmp_path).read())
    assert len(events) == 600
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 600
    for name in ("a", "b"):
        assert [e["data"]["i"] for e in events if e["mission"] == name] == list(range(300))


def test_prune_by_age_and_bytes_keeps_the_newest_segment(tmp_path: Path) -> None:
    log = EventLog(tmp_path, segment_bytes=200)
    for i in range(10):
        log.append("usage", data={"pad": "y" * 60, "i": i})
    segments = log.segments()
    assert len(segments) >= 4
    old = time.time() - 40 * 86400
    for _start, path in segments[:2]:
        os.utime(path, (old, old))
    removed = log.prune(now=time.time(), keep_seconds=30 * 86400)
    assert removed == [p for _, p in segments[:2]]
    assert log.oldest() == segments[2][0]
    log.prune(now=time.time(), max_bytes=1)
    assert log.segments() == segments[-1:]
    # A reader resuming before what is kept starts at the oldest kept event.
    assert next(iter(log.read(after=0)))["id"] == segments[-1][0]
    assert log.append("usage") > segments[-1][0]


def test_listeners_hear_appends_in_this_process(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    heard: list[int] = []

    def listener() -> None:
        heard.append(1)

    add_listener(tmp_path, listener)
    log.append("usage")
    remove_listener(tmp_path, listener)
    log.append("usage")
    assert heard == [1]


@pytest.mark.process
def test_watcher_wakes_on_an_append_from_another_process(tmp_path: Path) -> None:
    woke = threading.Event()
    watcher = LogWatcher(tmp_path, woke.set)
    assert watcher.start()
    try:
        subprocess.run([sys.executable, "-c", _WRITER, str(tmp_path), "x", "1"], check=True)
        assert woke.wait(timeout=10)
    finally:
        watcher.stop()
    assert [e["mission"] for e in EventLog(tmp_path).read()] == ["x"]


def test_rotation_keeps_the_log_under_its_byte_cap(tmp_path: Path) -> None:
    log = EventLog(tmp_path, segment_bytes=200, max_bytes=600)
    for i in range(60):
        log.append("usage", data={"i": i, "pad": "p" * 40})
    sizes = [path.stat().st_size for _start, path in log.segments()]
    assert sum(sizes) <= 600 + 200
    assert log.oldest() > 0
    assert [e["data"]["i"] for e in log.read()][-1] == 59
