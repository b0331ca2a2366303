"""The tools an llm agent may call, named and shaped as Claude Code names them.

Front matter `tools:` (a list, or Claude Code's comma-separated text) chooses them;
`disallowedTools:` removes some. Without `tools:` an agent gets none (Claude Code would give
it every tool; Houston asks for them by name so a plain prompt agent never sends tool
definitions to a small model). `Bash(git:*)`-style rules name the whole tool.

Built in: Read, Write, Edit, Glob, Grep (houston.runners.tools_files, confined to the
attempt's work folder), Bash (`/bin/sh -c` in the work folder, in its own process group
registered with the engine, so a timeout, cancel or crash of the attempt stops it; its
group is killed when the command ends, so nothing it started in the background survives),
BlackboardRead and BlackboardWrite (the mission's blackboard), and `mcp__<server>__<tool>`
for each tool of the agent's `mcpServers` (houston.runners.tools_mcp).
Every call is one `tool.call` event and one line in the attempt's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from houston.runners import AgentContext, write_output
from houston.runners.processes import interrupts_held
from houston.runners.tools_files import FILE_TOOLS, SCHEMAS, ToolError

BASH_DEFAULT_MS = 120_000
BASH_MAX_MS = 600_000
MAX_OUTPUT = 30_000  # characters of a tool's answer given back to the model
WAIT_SLICE = 0.1  # seconds: how late a cancel may reach a Bash command (_output_within)
HOUSTON_TOOLS = ("BlackboardRead", "BlackboardWrite")

_EXTRA_SCHEMAS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "Bash": (
        "Run a shell command in the work folder; answers its output and exit code.",
        {
            "command": {"type": "string"},
            "timeout": {"type": "integer"},
            "description": {"type": "string"},
        },
        ["command"],
    ),
    "BlackboardRead": (
        "Read the mission blackboard: one directive by key, or all "
        "directives and the latest decisions.",
        {"key": {"type": "string"}},
        [],
    ),
    "BlackboardWrite": (
        "Write to the mission blackboard: a directive (key and value), or "
        "a decision (decision text).",
        {"key": {"type": "string"}, "value": {}, "decision": {"type": "string"}},
        [],
    ),
}


def tool_names(value: Any) -> list[str]:
    """Claude Code's `tools` value (list or "A, B") as names; `Bash(git:*)` -> Bash."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    names = [str(item).strip().split("(")[0].strip() for item in items]
    return [name for name in dict.fromkeys(names) if name]


def chosen_tools(agent: dict[str, Any]) -> list[str]:
    """The built-in tools (and MCP tool patterns) the agent may call."""
    denied = set(tool_names(agent.get("disallowedTools")))
    return [name for name in tool_names(agent.get("tools")) if name not in denied]


def schema(
    name: str, description: str, props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


def summarize(args: dict[str, Any], limit: int = 120) -> str:
    """A short, single-line summary of a call's arguments for events and logs."""
    parts = []
    for key, value in args.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={' '.join(str(text).split())[:60]}")
    joined = " ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


@dataclass
class ToolBox:
    """The tools of one attempt; `call` never raises for a tool's own failure."""

    ctx: AgentContext
    names: list[str]
    deadline: float | None = None  # time.monotonic() when the attempt times out
    emit: Callable[[dict[str, Any]], None] | None = None
    mcp: Any = None  # houston.runners.tools_mcp.McpTools when mcpServers are given
    handlers: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        root = self.ctx.work_dir
        for name in self.names:
            if name in FILE_TOOLS:
                fn = FILE_TOOLS[name]
                self.handlers[name] = lambda args, fn=fn: fn(root, args)  # type: ignore[misc]
        if "Bash" in self.names:
            self.handlers["Bash"] = self.bash
        if "BlackboardRead" in self.names:
            self.handlers["BlackboardRead"] = self.blackboard_read
        if "BlackboardWrite" in self.names:
            self.handlers["BlackboardWrite"] = self.blackboard_write

    def schemas(self) -> list[dict[str, Any]]:
        found = []
        for name in self.handlers:
            found.append(schema(name, *(SCHEMAS.get(name) or _EXTRA_SCHEMAS[name])))
        if self.mcp is not None:
            found += self.mcp.schemas()
        return found

    def call(self, name: str, raw_args: str | dict[str, Any]) -> tuple[str, bool]:
        """(answer for the model, ok); records the call as an event and a log line."""
        started = time.monotonic()
        args: dict[str, Any] = {}
        try:
            args = raw_args if isinstance(raw_args, dict) else _parse_args(raw_args)
            answer, ok = self._dispatch(name, args), True
        except ToolError as exc:
            answer, ok = f"Error: {exc}", False
        except (OSError, ValueError, TypeError) as exc:
            answer, ok = f"Error: {type(exc).__name__}: {exc}", False
        duration = int((time.monotonic() - started) * 1000)
        record = {
            "tool": name,
            "summary": summarize(args),
            "outcome": "ok" if ok else "error",
            "duration_ms": duration,
        }
        _log_line(f"[tool] {name} {record['summary']} -> {record['outcome']} ({duration} ms)")
        if self.emit is not None:
            self.emit(record)
        if len(answer) > MAX_OUTPUT:
            answer = answer[:MAX_OUTPUT] + f"\n… ({len(answer) - MAX_OUTPUT} characters cut)"
        return answer, ok

    def _dispatch(self, name: str, args: dict[str, Any]) -> str:
        handler = self.handlers.get(name)
        if handler is not None:
            return handler(args)
        if self.mcp is not None and self.mcp.offers(name):
            text: str = self.mcp.call(name, args)
            return text
        raise ToolError(
            f"no tool {name!r} for this agent (it may use: {', '.join(self.offered()) or 'none'})"
        )

    def offered(self) -> list[str]:
        return [*self.handlers, *(self.mcp.names() if self.mcp is not None else [])]

    def bash(self, args: dict[str, Any]) -> str:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        wait = min(int(args.get("timeout") or BASH_DEFAULT_MS), BASH_MAX_MS) / 1000
        if self.deadline is not None:
            wait = min(wait, max(0.1, self.deadline - time.monotonic()))
        with interrupts_held():  # a cancel lands after the child is known, never before
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=self.ctx.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.ctx.register_process(proc)  # the engine stops this group on timeout or cancel
        try:
            out = _output_within(proc, wait)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, _ = proc.communicate()
            raise ToolError(
                f"the command timed out after {wait:g} s: " + out.decode("utf-8", "replace")[-2000:]
            ) from None
        finally:
            _kill_group(proc.pid)  # background children die with their command
        text = out.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise ToolError(f"exit code {proc.returncode}\n{text}")
        return text or "(no output)"

    def blackboard_read(self, args: dict[str, Any]) -> str:
        board = self.ctx.blackboard
        key = args.get("key")
        if key:
            return json.dumps(board.directive(str(key)), default=str)
        return json.dumps(
            {"directives": board.directives(), "decisions": board.decisions()[-20:]}, default=str
        )

    def blackboard_write(self, args: dict[str, Any]) -> str:
        board = self.ctx.blackboard
        if isinstance(args.get("decision"), str) and args["decision"].strip():
            board.decide(args["decision"])
            return "decision recorded"
        if not isinstance(args.get("key"), str) or "value" not in args:
            raise ToolError("give key and value (a directive), or decision (text)")
        try:
            board.set_directive(args["key"], args["value"])
        except Exception as exc:  # the board's own errors say what is wrong with the key
            raise ToolError(str(exc).splitlines()[0]) from None
        return f"directive {args['key']} set"


def _parse_args(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError as exc:
        raise ToolError(f"the arguments are not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ToolError("the arguments must be a JSON object")
    return value


def _output_within(proc: subprocess.Popen[bytes], wait: float) -> bytes:
    """The command's output if it ends within `wait` seconds (else TimeoutExpired), waited
    for in short slices. A cancel of a Ray task (`_thread.interrupt_main`) is raised only
    when the main thread runs Python, never inside a select(): one long wait held it off
    until the command ended, and the command outlived its attempt."""
    deadline = time.monotonic() + wait
    while True:
        try:
            out, _ = proc.communicate(
                timeout=max(0.0, min(WAIT_SLICE, deadline - time.monotonic()))
            )
            return out
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _log_line(text: str) -> None:
    with contextlib.suppress(OSError):
        write_output((text + "\n").encode("utf-8", "replace"))
