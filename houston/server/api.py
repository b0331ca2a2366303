"""The JSON API (docs/telemetry.md): read the store, act only through `houston.actions`.

Every read answers with `last_event_id`, taken before the store is read: a client that
opens `/events?since=<last_event_id>` next sees every change after its snapshot.
"""

from __future__ import annotations

from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from houston.core.errors import (
    AmbiguousError,
    ConflictError,
    EnvironmentFault,
    HoustonError,
    IllegalTransition,
    NotFoundError,
    from_os_error,
)
from houston.core.ids import is_decimal
from houston.home.events import EventLog
from houston.home.layout import MISSION_SPEC
from houston.home.store import MissionStore
from houston.server import acting, listing
from houston.views import logs, mission
from houston.views.metrics import LogMetrics

MAX_BODY = 1024 * 1024
STATUS_BY_ERROR: list[tuple[type[HoustonError], int]] = [
    (NotFoundError, 404),
    (AmbiguousError, 409),
    (ConflictError, 409),
    (IllegalTransition, 409),
    (EnvironmentFault, 503),
]


def error_response(exc: HoustonError) -> JSONResponse:
    status = next((code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls)), 400)
    body = {"error": exc.what, "where": exc.where, "fix": exc.fix}
    return JSONResponse(body, status_code=status)


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    return max(low, min(high, value))


class Api:
    def __init__(self, store: MissionStore, log: EventLog, metrics: LogMetrics) -> None:
        self.store = store
        self.log = log
        self.metrics = metrics
        self.index = listing.MissionIndex(store, cache=store.home.mission_index)

    def routes(self) -> list[Route]:
        return [
            Route("/api/missions", self.list_missions, methods=["GET"]),
            Route("/api/missions", self.submit, methods=["POST"]),
            Route("/api/missions/{id}", self.show, methods=["GET"]),
            Route("/api/missions/{id}/tasks/{task}/log", self.task_log, methods=["GET"]),
            Route("/api/missions/{id}/{verb}", self.act, methods=["POST"]),
            Route("/api/missions/{id}/tasks/{task}/{verb}", self.act_task, methods=["POST"]),
        ]

    async def _call(self, fn: Any, *args: Any, status: int = 200) -> Response:
        try:
            result = await run_in_threadpool(fn, *args)
        except HoustonError as exc:
            return error_response(exc)
        except OSError as exc:  # a name too long (400), a full or read-only disk (503)
            error = from_os_error(exc)
            if error is None:
                raise
            return error_response(error)
        return JSONResponse(result, status_code=status)

    async def list_missions(self, request: Request) -> Response:
        """One page of missions; `?q= state= outcome= package= since= until= sort=
        limit= offset=` are applied here, on the server (listing.py)."""
        query = listing.parse_query(dict(request.query_params))
        response = await self._call(self._list, query)
        # Runs once the answer is sent: the index build waits for the first page.
        response.background = BackgroundTask(self.index.first_page_sent)
        return response

    def _list(self, query: listing.Query) -> dict[str, Any]:
        last = self.log.last_id()
        missions, total = self.index.query(query)
        return {
            "last_event_id": last,
            "workers": self.metrics.catch_up().workers,
            "counts": mission.counts(self.store),
            "total": total,
            "offset": query.offset,
            "limit": query.limit,
            "missions": missions,
        }

    async def show(self, request: Request) -> Response:
        return await self._call(self._show, request.path_params["id"])

    def _show(self, mission_id: str) -> dict[str, Any]:
        last = self.log.last_id()
        detail = mission.mission_detail(self.store, self.store.resolve(mission_id))
        detail["last_event_id"] = last
        return detail

    async def task_log(self, request: Request) -> Response:
        raw_attempt = request.query_params.get("attempt")
        attempt = int(raw_attempt) if raw_attempt and is_decimal(raw_attempt) else None
        stream = request.query_params.get("stream", "stdout")
        tail = _int(request, "tail", logs.LOG_TAIL_BYTES, 0, 1024 * 1024)
        task = request.path_params["task"]

        def read() -> dict[str, Any]:
            ref = self.store.resolve(request.path_params["id"])
            return logs.task_log(ref, task, attempt=attempt, stream=stream, tail_bytes=tail)

        return await self._call(read)

    async def submit(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": "mission file larger than 1 MiB"}, 413)
        approve = request.query_params.get("approve") in ("1", "true", "yes")
        return await self._call(acting.submit, self.store, body, MISSION_SPEC, approve, status=201)

    async def act_task(self, request: Request) -> Response:
        verb = request.path_params["verb"]
        if verb not in acting.TASK_VERBS:
            return JSONResponse({"error": f"unknown task action {verb!r}"}, status_code=404)
        params = request.path_params
        return await self._call(acting.decide_task, self.store, verb, params["id"], params["task"])

    async def act(self, request: Request) -> Response:
        verb = request.path_params["verb"]
        if verb not in acting.VERBS:
            return JSONResponse({"error": f"unknown action {verb!r}"}, status_code=404)
        return await self._call(acting.act, self.store, verb, request.path_params["id"])
