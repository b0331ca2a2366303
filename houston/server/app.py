"""The Starlette application: dashboard, `/events`, the JSON API and `/metrics`.

`create_app` wires the pieces; the feed starts and stops with the app's lifespan. The
whole app sits behind `Guard` (security.py), a pure ASGI middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from houston.core.lifecycle import MissionState
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.api import Api
from houston.server.reads import Reads
from houston.server.security import HEALTH_PATH, LOOPBACK_HOSTS, Guard
from houston.server.sse import Feed, resume_point
from houston.views import mission
from houston.views.metrics import LogMetrics, render

STATIC = Path(__file__).parent / "static"


class EventStream(EventSourceResponse):
    """A stream whose client stopped reading (a sleeping laptop) ends quietly: the
    browser resumes from its last id when it wakes up."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(SendTimeoutError):
            await super().__call__(scope, receive, send)


PING_SECONDS = 10
SEND_TIMEOUT = 5.0


class Pages:
    """The non-JSON endpoints: the dashboard, the event stream and the metrics."""

    def __init__(self, store: MissionStore, log: EventLog, feed: Feed, send_timeout: float):
        self.store = store
        self.log = log
        self.feed = feed
        self.send_timeout = send_timeout
        self.metrics = LogMetrics(log)

    async def health(self, request: Request) -> Response:
        # Token-free and Host-free (security.HEALTH_PATH): says "ok" and nothing else.
        # 503 when the home's missions folder cannot be read (a lost volume).
        up = await run_in_threadpool(os.access, self.store.home.missions, os.R_OK | os.X_OK)
        return Response(
            "ok\n" if up else "unavailable\n",
            status_code=200 if up else 503,
            media_type="text/plain",
            headers={"Cache-Control": "no-store"},
        )

    async def dashboard(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def events(self, request: Request) -> Response:
        after = resume_point(
            request.headers.get("last-event-id"),
            request.query_params.get("since"),
            self.log.last_id(),
        )
        mission = request.query_params.get("mission") or None
        return EventStream(
            self.feed.stream(after, mission),
            ping=PING_SECONDS,
            send_timeout=self.send_timeout,
            headers={"Cache-Control": "no-store"},
        )

    def scrape(self) -> bytes:
        busy = mission.running_tasks(self.store)
        return render(self.metrics.catch_up(), mission.counts(self.store), busy)

    async def prometheus(self, request: Request) -> Response:
        body = await run_in_threadpool(self.scrape)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(
    home: Home,
    token: str,
    *,
    hosts: Iterable[str] = LOOPBACK_HOSTS,
    queue_size: int = 1000,
    reconcile: float = 2.0,
    send_timeout: float = SEND_TIMEOUT,
) -> tuple[ASGIApp, Feed]:
    log = EventLog(home.events)
    store = MissionStore(home)
    board = [home.state_dir(state) for state in MissionState]
    feed = Feed(log, queue_size=queue_size, reconcile=reconcile, board=board)
    pages = Pages(store, log, feed, send_timeout)
    api = Api(store, log, pages.metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await feed.start()
        # Read every mission into the list's index in the background, so that the first
        # search with 10,000 missions does not wait for 10,000 status.json reads; the index
        # file of the last run (checked row by row) makes that a fraction of a second. It
        # begins once the first page went out, which needs no index.
        asyncio.get_running_loop().run_in_executor(None, api.index.warm_after_first_page)
        try:
            yield
        finally:
            api.index.save()  # what changed while serving, for the next start
            await feed.stop()
            pages.metrics.close()
            log.close()

    app = Starlette(routes=_routes(home, pages, api), lifespan=lifespan)
    return Guard(app, token=token, hosts=hosts), feed


def _routes(home: Home, pages: Pages, api: Api) -> list[BaseRoute]:
    return [
        Route("/", pages.dashboard, methods=["GET"]),
        Route(HEALTH_PATH, pages.health, methods=["GET"]),
        Route("/events", pages.events, methods=["GET"]),
        Route("/metrics", pages.prometheus, methods=["GET"]),
        *api.routes(),
        *Reads(home, pages.store, pages.log).routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
