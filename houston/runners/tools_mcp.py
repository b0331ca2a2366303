"""`mcpServers:` — stdio MCP servers offered to an llm agent as `mcp__<server>__<tool>`.

Uses the official `mcp` Python SDK (`pip install 'houston[mcp]'`). The SDK is async; an
attempt's tool loop is plain code that may itself run in a thread, so the servers live on
an event loop of their own in one background thread, and `call` waits on it with a
deadline. The SDK starts each server in its own session and stops its process tree when
the attempt's tools are closed (the runner closes them in a `finally`); if the worker is
killed, the servers see their stdin close and exit, as stdio MCP servers must.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from houston.core.errors import RunnerError
from houston.runners.tools_files import ToolError

START_TIMEOUT = 30.0
CALL_TIMEOUT = 120.0


def tool_name(server: str, tool: str) -> str:
    return f"mcp__{server}__{tool}"


def allowed(name: str, patterns: list[str]) -> bool:
    """Claude Code's rules: `mcp__srv` (all its tools) or `mcp__srv__tool`."""
    server = "__".join(name.split("__")[:2])
    return name in patterns or server in patterns


def named(server: str, wanted: list[str]) -> bool:
    prefix = tool_name(server, "")
    return any(w == prefix[:-2] or w.startswith(prefix) for w in wanted)


class McpTools:
    """The MCP servers of one attempt. Use as a context manager (it stops them)."""

    def __init__(
        self,
        servers: dict[str, dict[str, Any]],
        work_dir: Path,
        wanted: list[str],
        denied: list[str],
    ) -> None:
        self.servers = servers
        self.work_dir = work_dir
        self.wanted, self.denied = wanted, denied
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="houston-mcp", daemon=True
        )
        self.sessions: dict[str, Any] = {}
        self.tools: dict[str, tuple[str, str, dict[str, Any], str]] = {}
        self.stack: contextlib.AsyncExitStack | None = None

    def __enter__(self) -> McpTools:
        try:
            import mcp  # noqa: F401
        except ImportError as exc:
            raise RunnerError(
                "mcpServers needs the mcp SDK: " + str(exc), fix="pip install 'houston[mcp]'"
            ) from None
        self.thread.start()
        try:
            self._wait(self._start(), START_TIMEOUT, "starting the MCP servers")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stack is not None:
            with contextlib.suppress(Exception):
                self._wait(self.stack.aclose(), START_TIMEOUT, "stopping the MCP servers")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()

    def _wait(self, coro: Any, timeout: float, what: str) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise RunnerError(f"{what} took more than {timeout:g} s") from None

    async def _start(self) -> None:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        self.stack = contextlib.AsyncExitStack()
        for server, spec in self.servers.items():
            if not named(server, self.wanted):
                continue  # none of its tools is named by `tools:`: not started
            if spec.get("type", "stdio") != "stdio" or not spec.get("command"):
                raise RunnerError(
                    f"MCP server {server!r} is not a stdio server with a command",
                    fix="Houston starts stdio MCP servers only (command, args)",
                )
            params = StdioServerParameters(
                command=spec["command"],
                args=list(spec.get("args") or []),
                env=dict(spec.get("env") or {}) or None,
                cwd=str(self.work_dir),
            )
            try:
                read, write = await self.stack.enter_async_context(stdio_client(params))
                session = await self.stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                listed = await session.list_tools()
            except Exception as exc:
                raise RunnerError(
                    f"MCP server {server!r} did not start: {exc}",
                    fix="check its command and args under mcpServers",
                ) from None
            self.sessions[server] = session
            for tool in listed.tools:
                name = tool_name(server, tool.name)
                if allowed(name, self.wanted) and not allowed(name, self.denied):
                    # input_schema in the SDK 2.x, inputSchema in 1.x
                    schema = (
                        getattr(tool, "input_schema", None)
                        or getattr(tool, "inputSchema", None)
                        or {}
                    )
                    self.tools[name] = (server, tool.name, dict(schema), tool.description or "")

    def names(self) -> list[str]:
        return list(self.tools)

    def offers(self, name: str) -> bool:
        return name in self.tools

    def schemas(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": desc or name,
                    "parameters": schema or {"type": "object", "properties": {}},
                },
            }
            for name, (_, _, schema, desc) in self.tools.items()
        ]

    def call(self, name: str, args: dict[str, Any]) -> str:
        server, tool, _, _ = self.tools[name]
        try:
            result = self._wait(
                self.sessions[server].call_tool(tool, args), CALL_TIMEOUT, f"the MCP tool {name}"
            )
        except Exception as exc:  # a dead server or a protocol error: the model is told
            raise ToolError(f"the MCP server {server!r} failed: {exc}") from None
        text = "\n".join(_content_text(block) for block in result.content)
        failed = getattr(result, "is_error", None)  # isError in the SDK 1.x
        if failed is None:
            failed = getattr(result, "isError", False)
        if failed:
            raise ToolError(text or "the MCP tool failed")
        return text or "(no output)"


def _content_text(block: Any) -> str:
    text = getattr(block, "text", None)
    if isinstance(text, str):
        return text
    dump: Callable[..., Any] | None = getattr(block, "model_dump_json", None)
    return str(dump() if dump else block)
