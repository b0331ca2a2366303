"""The dashboard's read endpoints beyond the core API of docs/telemetry.md, and starting a workflow.

`GET /api/missions/{id}/events`   resource series per attempt, tool calls, budget events
`GET /api/missions/{id}/log`      the whole log of the mission (`?download=1` as a file)
`GET /api/missions/{id}/outputs`  outputs/ listed; `/outputs/{path}` one file
                                  (`?render=1` Markdown as safe HTML, else a download)
`GET /api/missions/{id}/blackboard`  decisions and directives
`GET /api/costs`                  `houston costs` as JSON (`?by=`, `?since=`)
`GET /api/packages`               installed packages with their agents and workflows
`POST /api/runs`                  `{"workflow": "pkg/name", "params": {...}}` submits it
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from houston.core.errors import HoustonError, UsageError
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.api import MAX_BODY, error_response
from houston.views import events, logs, produced


class Reads:
    def __init__(self, home: Home, store: MissionStore, log: EventLog) -> None:
        self.home = home
        self.store = store
        self.log = log

    def routes(self) -> list[Route]:
        return [
            Route("/api/missions/{id}/events", self.events, methods=["GET"]),
            Route("/api/missions/{id}/log", self.whole_log, methods=["GET"]),
            Route("/api/missions/{id}/outputs", self.outputs, methods=["GET"]),
            Route("/api/missions/{id}/outputs/{path:path}", self.output, methods=["GET"]),
            Route("/api/missions/{id}/blackboard", self.blackboard, methods=["GET"]),
            Route("/api/costs", self.costs, methods=["GET"]),
            Route("/api/packages", self.packages, methods=["GET"]),
            Route("/api/runs", self.run_workflow, methods=["POST"]),
        ]

    async def _json(self, fn: Callable[[], Any], status: int = 200) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(fn), status_code=status)
        except HoustonError as exc:
            return error_response(exc)

    async def events(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            ref = self.store.resolve(request.path_params["id"])
            return events.mission_activity(self.store, self.log, ref)

        return await self._json(read)

    async def whole_log(self, request: Request) -> Response:
        download = request.query_params.get("download") in ("1", "true")
        try:
            ref, text = await run_in_threadpool(self._log_text, request.path_params["id"])
        except HoustonError as exc:
            return error_response(exc)
        headers = {"Content-Disposition": f'attachment; filename="{ref}.log"'} if download else {}
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)

    def _log_text(self, mission_id: str) -> tuple[str, str]:
        ref = self.store.resolve(mission_id)
        return ref.id, logs.mission_log(ref.path)

    async def outputs(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            ref = self.store.resolve(request.path_params["id"])
            return {"mission": ref.id, "files": produced.list_outputs(ref.path)}

        return await self._json(read)

    async def output(self, request: Request) -> Response:
        render = request.query_params.get("render") in ("1", "true")
        try:
            ref = await run_in_threadpool(self.store.resolve, request.path_params["id"])
            path = produced.output_file(ref.path, request.path_params["path"])
            if not render:
                return FileResponse(path, filename=path.name, content_disposition_type="attachment")
            if path.stat().st_size > produced.MAX_RENDER_BYTES:
                raise UsageError(f"{path.name} is too large to show; download it instead")
            text = path.read_text(encoding="utf-8", errors="replace")
        except HoustonError as exc:
            return error_response(exc)
        html = await run_in_threadpool(produced.render_markdown, text)
        return JSONResponse({"path": request.path_params["path"], "html": html})

    async def blackboard(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            return produced.read_blackboard(self.store.resolve(request.path_params["id"]).path)

        return await self._json(read)

    async def costs(self, request: Request) -> Response:
        from houston.views.costs import GROUPS, cost_table, parse_since

        by = request.query_params.get("by", "mission")
        since = request.query_params.get("since") or None

        def read() -> dict[str, Any]:
            if by not in GROUPS:
                raise UsageError(f"cannot group spend by {by!r}", fix=f"use {', '.join(GROUPS)}")
            return cost_table(self.store, by, parse_since(since, datetime.now(UTC)))

        return await self._json(read)

    async def packages(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            from houston.pkg.info import list_installed, package_info

            return {
                "packages": [package_info(self.home, p["name"]) for p in list_installed(self.home)]
            }

        return await self._json(read)

    async def run_workflow(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request larger than 1 MiB"}, status_code=413)
        return await self._json(lambda: self._submit_workflow(body), status=201)

    def _submit_workflow(self, body: bytes) -> dict[str, Any]:
        from houston.pkg.workflows import render_workflow
        from houston.server import acting

        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise UsageError(
                "the request body is not JSON", fix='send {"workflow": "pkg/name", "params": {}}'
            ) from exc
        if not isinstance(request, dict) or not isinstance(request.get("workflow"), str):
            raise UsageError("name the workflow to run", fix='send {"workflow": "pkg/name"}')
        raw = request.get("params") or {}
        if not isinstance(raw, dict):
            raise UsageError("params must be an object of name: value")
        params = {str(k): str(v) for k, v in raw.items()}
        data, source = render_workflow(self.home, request["workflow"], params)
        return acting.submit(self.store, data, source, bool(request.get("approve")))
