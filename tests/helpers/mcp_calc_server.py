"""A tiny stdio MCP server for tests, written with the official SDK: one tool, `add`."""

from __future__ import annotations

try:  # the SDK 2.x name; 1.x called it FastMCP
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # pragma: no cover - depends on the installed SDK
    # mypy sees the installed 2.x SDK, where this module has no FastMCP.
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[attr-defined,no-redef]

server = Server("calc")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the reason given."""
    raise ValueError(reason)


if __name__ == "__main__":
    server.run("stdio")
