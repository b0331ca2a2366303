"""The SSE feed: exact resume (no gap, no duplicate), filters, bounded buffers, shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from houston.home.events import EventLog
from houston.home.layout import Home
from houston.server.launcher import ServerHandle, start
from houston.server.sse import CONTROL, Feed, Subscriber, resume_point, wire


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def messages(
    server: ServerHandle,
    path: str,
    headers: dict[str, str] | None = None,
    count: int = 10**9,
    until: int | None = None,
) -> list[dict[str, Any]]:
    """Read SSE messages until `count` of them or the one with id `until` (bounded)."""
    got: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {server.token}", **(headers or {})}
    with httpx.stream("GET", f"{server.base_url}{path}", headers=auth, timeout=10) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                if len(got) >= count or (until is not None and got[-1].get("id") == until):
                    break
    return got


def test_resume_point_prefers_last_event_id_then_since_then_head() -> None:
    assert resume_point("41", "7", 99) == 41
    assert resume_point(None, "7", 99) == 7
    assert resume_point("", "junk", 99) == 99
    assert resume_point(None, None, 99) == 99
    assert resume_point(None, "-5", 99) == -1
    for junk in ("\u0663", "1_0", "+5", "1e3", "9" * 40):  # int() reads the first three
        assert resume_point(junk, None, 99) == 99


def test_wire_carries_the_id_for_resume() -> None:
    assert wire(12, b'{"id":12}') == b'id: 12\ndata: {"id":12}\n\n'


def test_hints_reach_filtered_clients_but_foreign_events_do_not() -> None:
    sub = Subscriber("mine", limit=10)
    sub.offer(1, "theirs", b"a")
    sub.offer(CONTROL, None, b"hint")
    sub.offer(2, "mine", b"b")
    assert list(sub.items) == [(CONTROL, b"hint"), (2, b"b")]


def test_a_subscriber_that_falls_behind_is_closed_not_grown() -> None:
    sub = Subscriber(None, limit=3)
    for i in range(5):
        sub.offer(i, None, b"x")
    assert sub.closed == "overflow"
    assert not sub.items
    assert asyncio.run(sub.next_batch()) is None


def test_feed_closes_a_slow_client_when_its_buffer_fills(tmp_path: Path) -> None:
    log = EventLog(tmp_path)

    async def scenario() -> tuple[str | None, str | None]:
        feed = Feed(log, queue_size=3, reconcile=60)
        await feed.start()
        slow, other = feed.subscribe(None), feed.subscribe("elsewhere")
        for i in range(5):
            log.append("usage", mission="m", data={"i": i})
        feed.pump()
        await feed.stop()
        return slow.closed, other.closed

    slow, other = asyncio.run(scenario())
    assert slow == "overflow"
    assert other == "shutdown"  # filtered out, so never behind; closed by stop()


def test_replay_then_live_with_a_reconnect_has_no_gap_and_no_duplicate(
    server: ServerHandle,
) -> None:
    log = EventLog(server.home.events)
    for i in range(50):
        log.append("usage", mission="m", data={"i": i})
    done = threading.Event()

    def writer() -> None:
        own = EventLog(server.home.events)
        for i in range(200):
            own.append("attempt.log", mission="m", data={"line": f"l{i}"})
            time.sleep(0.001)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        first = messages(server, "/events?since=-1", count=60)
        thread.join(timeout=30)
        last_ids = [e["id"] for e in log.read()]
        resumed = messages(
            server,
            "/events?since=0",
            headers={"Last-Event-ID": str(first[-1]["id"])},
            until=last_ids[-1],
        )
    finally:
        thread.join(timeout=30)
    assert done.is_set() and len(last_ids) == 250
    assert [e["id"] for e in first + resumed] == last_ids


def test_since_resumes_and_mission_filters(server: ServerHandle) -> None:
    log = EventLog(server.home.events)
    ids = [log.append("usage", mission=("a" if i % 2 else "b"), data={"i": i}) for i in range(10)]
    only_a = messages(server, f"/events?since={ids[2]}&mission=a", until=ids[9])
    assert [e["id"] for e in only_a] == [i for n, i in enumerate(ids) if n > 2 and n % 2]


def test_a_live_client_gets_new_events_and_not_old_ones(server: ServerHandle) -> None:
    log = EventLog(server.home.events)
    old = log.append("usage", data={"old": True})
    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.extend(messages(server, "/events", count=1)))
    reader.start()
    deadline = time.monotonic() + 10
    new = None
    while reader.is_alive() and time.monotonic() < deadline:
        new = log.append("usage", data={"old": False})  # until the subscriber is in
        reader.join(timeout=0.2)
    assert not reader.is_alive()
    assert got and got[0]["id"] > old and got[0]["data"] == {"old": False}
    assert new is not None


def test_stop_ends_open_streams_and_the_server_thread(home: Home) -> None:
    handle = start(home, port=0)
    ended = threading.Event()

    def reader() -> None:
        messages(handle, "/events")  # returns only when the server ends the stream
        ended.set()

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 10
    while not handle._feed.subscribers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handle._feed.subscribers
    handle.stop()
    thread.join(timeout=10)
    assert ended.is_set()
    assert not handle._thread.is_alive()


def test_a_mission_moved_without_an_event_sends_a_missions_hint(server: ServerHandle) -> None:
    from houston.actions import submit
    from houston.home.store import MissionStore

    got: list[str] = []

    def reader() -> None:
        auth = {"Authorization": f"Bearer {server.token}"}
        with httpx.stream("GET", f"{server.base_url}/events", headers=auth, timeout=10) as answer:
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    got.append(line)
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        submit(
            MissionStore(server.home),
            b"name: x\ntasks:\n  - {id: a, agent: core/shell}\n",
            "m.yaml",
        )
        thread.join(timeout=0.3)
    assert got == ["event: missions"]


def test_a_client_that_stops_reading_is_dropped_and_the_server_goes_on(home: Home) -> None:
    import socket

    handle = start(home, port=0, queue_size=50, send_timeout=1)
    stalled = socket.socket()
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", handle.port))
        stalled.sendall(
            f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{handle.port}\r\n"
            f"Authorization: Bearer {handle.token}\r\n\r\n".encode()
        )
        feed = handle._feed
        deadline = time.monotonic() + 10
        while not feed.subscribers and time.monotonic() < deadline:
            time.sleep(0.01)
        (sub,) = feed.subscribers
        log = EventLog(home.events)
        for i in range(2000):  # about 4 MB: far more than the socket buffers hold
            log.append("attempt.log", data={"i": i, "line": "x" * 2000})
        deadline = time.monotonic() + 20
        while sub in feed.subscribers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sub.closed == "overflow"
        assert sub not in feed.subscribers  # its stream ended (send timeout), memory freed
        assert len(sub.items) == 0
        last = log.append("usage", data={"after": True})
        got = messages(handle, f"/events?since={last - 1}", count=1)
        assert got[0]["id"] == last
    finally:
        stalled.close()
        handle.stop()


@pytest.mark.process
def test_an_append_from_another_process_reaches_a_client(home: Home) -> None:
    """No reconcile for a minute: only the inotify wake-up can deliver it in time."""
    import subprocess
    import sys

    server = start(home, port=0, reconcile=60)
    script = (
        "import sys; from pathlib import Path; from houston.home.events import EventLog; "
        "print(EventLog(Path(sys.argv[1])).append('usage', mission='far'))"
    )
    got: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: got.extend(messages(server, "/events?mission=far", count=1))
    )
    reader.start()
    ids: list[int] = []
    try:
        deadline = time.monotonic() + 20
        while reader.is_alive() and time.monotonic() < deadline:
            done = subprocess.run(
                [sys.executable, "-c", script, str(server.home.events)],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            ids.append(int(done.stdout))
            reader.join(timeout=0.5)
    finally:
        server.stop()
        reader.join(timeout=10)
    assert got and got[0]["id"] in ids


def test_a_resume_point_from_a_wiped_log_gets_a_reset_and_then_live_events(
    server: ServerHandle,
) -> None:
    log = EventLog(server.home.events)
    first = log.append("usage", data={"n": 1})
    lines: list[str] = []

    def reader() -> None:
        auth = {"Authorization": f"Bearer {server.token}", "Last-Event-ID": "999999"}
        with httpx.stream("GET", f"{server.base_url}/events", headers=auth, timeout=10) as answer:
            for line in answer.iter_lines():
                lines.append(line)
                if line.startswith('data: {"id"'):
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        log.append("usage", data={"n": 2})
        thread.join(timeout=0.2)
    assert "event: reset" in lines
    data = [json.loads(x[6:]) for x in lines if x.startswith('data: {"id"')]
    assert data and data[0]["id"] > first and data[0]["data"] == {"n": 2}
