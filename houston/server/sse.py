"""The live event feed behind `GET /events` (docs/telemetry.md).

One `Feed` per server tails the event log and fans every new event out to the
subscribers' bounded buffers. A client stream is built so that resuming is exact:
subscribe to the live feed first, replay the log from the resume point up to its head,
then drain the live buffer skipping ids already sent: no gap, no duplicate. The replay
reads the log a window of `REPLAY_BYTES` at a time, so a client that asks for the whole
log and stops reading holds one window, however large the log. A client
that falls `queue_size` events behind is closed; its browser reconnects with
`Last-Event-ID` and resumes from the log, so a slow client never grows memory.

The feed wakes on in-process appends (a listener), on inotify (another process wrote)
and every `reconcile` seconds regardless, because inotify can drop events.

It also watches the mission state folders (non-recursively): a mission moved by a tool
that logged no event still reaches the dashboard as an unlogged `missions` message
("look again"), which never moves a client's resume point.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio

from houston.home.events import EventLog, EventTail, add_listener, remove_listener
from houston.home.logwatch import LogWatcher

RETRY_MS = 1000
REPLAY_BATCH = 500
# One replay step reads, parses and sends at most this much: a stalled client then holds
# one window (plus the socket buffers), not a whole 8 MiB log segment parsed into dicts.
REPLAY_BYTES = 256 * 1024
_EVENT_ID = re.compile(r"-?[0-9]{1,18}")  # ASCII digits; 18 of them fit in an int64


def wire(event_id: int, raw: bytes) -> bytes:
    """Pure: the SSE message of a log line forwarded unchanged (encoded once per event)."""
    return b"id: %d\ndata: %s\n\n" % (event_id, raw)


def encode_control(name: str, data: dict[str, Any]) -> bytes:
    """Pure: a named message without an id (it does not move the resume point)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def resume_point(last_event_id: str | None, since: str | None, head_id: int) -> int:
    """Pure: the id to resume after. The browser's Last-Event-ID (sent on automatic
    reconnects) wins over `?since=`; with neither, start live at the head."""
    for raw in (last_event_id, since):
        text = (raw or "").strip()
        if _EVENT_ID.fullmatch(text):  # not int(): it also reads "٣" and "1_0"
            return max(-1, int(text))
    return head_id


CONTROL = -1  # the id of an unlogged hint: never compared, never a resume point


class Subscriber:
    """One client's bounded buffer of live messages: (event id, SSE bytes)."""

    def __init__(self, mission: str | None, limit: int) -> None:
        self.mission = mission
        self.limit = limit
        self.items: deque[tuple[int, bytes]] = deque()
        self.ready = asyncio.Event()
        self.closed: str | None = None  # why: "overflow" or "shutdown"

    def offer(self, event_id: int, mission: str | None, message: bytes) -> None:
        if self.closed is not None:
            return
        if event_id != CONTROL and self.mission is not None and mission != self.mission:
            return  # hints go to every client whatever its filter; events only if they match
        if len(self.items) >= self.limit:
            self.close("overflow")
            return
        self.items.append((event_id, message))
        self.ready.set()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self.items.clear()
        self.ready.set()

    async def next_batch(self) -> list[tuple[int, bytes]] | None:
        """The buffered messages, waiting for some; None once closed."""
        while not self.items:
            if self.closed is not None:
                return None
            self.ready.clear()
            await self.ready.wait()
        if self.closed is not None:
            return None
        batch = list(self.items)
        self.items.clear()
        return batch


class Feed:
    def __init__(
        self,
        log: EventLog,
        *,
        queue_size: int = 1000,
        reconcile: float = 2.0,
        board: Sequence[Path] = (),
    ) -> None:
        self.log = log
        self.board = list(board)
        self._board_changed = False
        self.queue_size = queue_size
        self.reconcile = reconcile
        self.subscribers: set[Subscriber] = set()
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tail: EventTail | None = None
        self._watchers: list[LogWatcher] = []
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle (called on the server's loop) -------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._tail = EventTail(self.log, self.log.last_id())
        add_listener(self.log.folder, self.wake_threadsafe)
        watcher = LogWatcher(self.log.folder, self.wake_threadsafe)
        for folder in self.board:
            watcher.also(folder, self.board_changed)
        watcher.start()
        self._watchers = [watcher]
        self._task = asyncio.create_task(self._run())

    def close(self) -> None:
        """Close every stream now (their clients reconnect to the next server)."""
        self.closing = True
        for sub in list(self.subscribers):
            sub.close("shutdown")

    async def stop(self) -> None:
        self.close()
        remove_listener(self.log.folder, self.wake_threadsafe)
        for watcher in self._watchers:
            await anyio.to_thread.run_sync(watcher.stop)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._tail is not None:
            self._tail.close()

    def wake_threadsafe(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def board_changed(self) -> None:
        self._board_changed = True
        self.wake_threadsafe()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.reconcile)
            self._wake.clear()
            self.pump()
            if self._board_changed:
                self._board_changed = False
                hint = encode_control("missions", {})
                for sub in list(self.subscribers):
                    sub.offer(CONTROL, None, hint)

    def pump(self) -> None:
        """Read what is new in the log and hand it to every subscriber."""
        assert self._tail is not None
        for _ in range(100):  # bounded; the next wake-up continues
            batch = self._tail.poll_raw(limit=REPLAY_BATCH, max_bytes=REPLAY_BYTES)
            if not batch:
                return
            subscribers = list(self.subscribers)
            for event, raw in batch:
                message = wire(event["id"], raw)
                for sub in subscribers:
                    sub.offer(event["id"], event.get("mission"), message)

    # -- clients --------------------------------------------------------------------

    def subscribe(self, mission: str | None) -> Subscriber:
        sub = Subscriber(mission, self.queue_size)
        if self.closing:
            sub.close("shutdown")
        self.subscribers.add(sub)
        return sub

    async def stream(self, after: int, mission: str | None) -> AsyncIterator[bytes]:
        """The bytes of one client's stream, resuming after id `after`."""
        sub = self.subscribe(mission)  # live first, so nothing slips between
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            head = self.log.head()
            if after >= head:  # an id from before the log was wiped: start afresh
                after = head - 1
                yield encode_control("reset", {"head": head})
            elif after >= 0 and after + 1 < self.log.oldest():  # pruned meanwhile
                yield encode_control("reset", {"oldest": self.log.oldest()})
            sent = after
            async for chunk, last in self._replay(after, mission):
                if chunk:
                    yield chunk
                sent = max(sent, last)
            while True:
                batch = await sub.next_batch()
                if batch is None:
                    return
                fresh = [m for i, m in batch if i == CONTROL or i > sent]
                sent = max([sent, *(i for i, _m in batch)])
                if fresh:
                    yield b"".join(fresh)
        finally:
            self.subscribers.discard(sub)

    async def _replay(self, after: int, mission: str | None) -> AsyncIterator[tuple[bytes, int]]:
        tail = EventTail(self.log, after)
        head = self.log.head()
        try:
            while tail.position < head and not self.closing:
                batch = await anyio.to_thread.run_sync(tail.poll_raw, REPLAY_BATCH, REPLAY_BYTES)
                if not batch:
                    break
                chunk = b"".join(
                    wire(e["id"], raw)
                    for e, raw in batch
                    if mission is None or e.get("mission") == mission
                )
                yield chunk, batch[-1][0]["id"]
        finally:
            tail.close()
