"""Pure parts of the `claude-code` runner: its argv, and what each stream-json message means.

Claude Code's headless mode (`claude -p --output-format stream-json --verbose
--include-partial-messages`) prints one JSON object a line: `system` (init, status,
retries), `stream_event` (the raw API events of each model call, as they arrive),
`assistant` (a finished content block), `user` (tool results) and a final `result`.

`Meter` turns them into spend as it arrives: a call's input tokens with its
`message_start`; its output tokens estimated from the streamed text every ESTIMATE_STEP
tokens, then set by its `message_delta` (cumulative per call); priced by model family.
The final `result` corrects both to Claude Code's own totals (`usage`, `total_cost_usd`),
which also cover side requests the stream never shows.
`Tools` pairs each `tool_use` with its `tool_result` into one tool call. No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# USD per million tokens (input, output) by model family; cache writes cost 1.25x input,
# cache reads 0.1x. An unknown model is priced as the dearest one: budgets fail closed.
PRICES = {
    "opus-4-0": (15.0, 75.0),
    "opus-4-1": (15.0, 75.0),
    "3-opus": (15.0, 75.0),
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}
DEAREST = (15.0, 75.0)
DEFAULT_PERMISSION_MODE = "acceptEdits"
SUMMARY_CHARS = 200
ESTIMATE_STEP = 64  # estimated output tokens between two reports while a call streams


def price_of(model: str) -> tuple[float, float]:
    name = model.lower()
    if name.startswith("claude-opus-4-2"):  # dated ids of Opus 4 (claude-opus-4-2025...)
        return DEAREST
    for family, price in PRICES.items():
        if family in name:
            return price
    return DEAREST


def tool_list(value: Any) -> list[str]:
    """A Claude Code `tools:` value (a list, or text separated by commas) as a list."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def build_argv(
    executable: str, agent: dict[str, Any], prompt_body: str, resume: str | None = None
) -> list[str]:
    """The claude command line for an agent (the user prompt goes on stdin)."""
    argv = [
        executable,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--permission-mode",
        str(agent.get("permissionMode") or DEFAULT_PERMISSION_MODE),
    ]
    if prompt_body.strip():
        argv += ["--append-system-prompt", prompt_body.strip()]
    tools = tool_list(agent.get("tools"))
    if tools:
        # `tools` is what the agent may use; in -p mode nobody can answer a permission
        # question, so the same tools are also allowed without asking.
        argv += ["--tools", ",".join(tools), "--allowedTools", ",".join(tools)]
    disallowed = tool_list(agent.get("disallowedTools"))
    if disallowed:
        argv += ["--disallowedTools", ",".join(disallowed)]
    model = agent.get("model")
    if model and model != "inherit":
        argv += ["--model", str(model)]
    if agent.get("maxTurns"):
        argv += ["--max-turns", str(int(agent["maxTurns"]))]
    servers = agent.get("mcpServers")
    if isinstance(servers, dict) and servers:
        argv += ["--mcp-config", json.dumps({"mcpServers": servers}), "--strict-mcp-config"]
    if resume:
        argv += ["--resume", resume]
    return argv


def build_prompt(inputs: dict[str, Any], needs: dict[str, Any], context: str) -> str:
    """The user prompt: the task's inputs, its needs' results and the mission context."""
    parts = []
    task = inputs.get("prompt") or inputs.get("task")
    if isinstance(task, str) and task.strip():
        parts.append(task.strip())
    rest = {k: v for k, v in inputs.items() if k not in ("prompt", "task")}
    if rest:
        parts.append("Inputs:\n```json\n" + json.dumps(rest, indent=2, default=str) + "\n```")
    if needs:
        parts.append(
            "Results of the tasks this one needs:\n```json\n"
            + json.dumps(needs, indent=2, default=str)
            + "\n```"
        )
    if context.strip():
        parts.append("Mission context:\n" + context.strip())
    return "\n\n".join(parts) if parts else "Begin."


@dataclass
class Meter:
    """Spend as it arrives; `reported` is what the engine has been told so far."""

    model: str = ""
    calls: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (input, output)
    current: str = ""
    streamed_chars: int = 0  # of the current call, before its message_delta says the count
    reported_tokens: int = 0
    reported_cost: float = 0.0
    final_split: tuple[int, int] | None = None  # (input, output) of the final `result`
    reported_split: tuple[int, int] = (0, 0)

    def on_stream_event(self, event: dict[str, Any]) -> tuple[int, float]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.current = str(message.get("id") or len(self.calls))
            self.model = str(message.get("model") or self.model)
            usage = message.get("usage") or {}
            self.calls[self.current] = (_input_tokens(usage), int(usage.get("output_tokens") or 0))
            self.streamed_chars = 0
        elif kind == "content_block_delta" and self.current in self.calls:
            # A long answer's output tokens are counted only at its end: estimate them as
            # they stream (about four characters a token) so a budget stops it midway.
            self.streamed_chars += _delta_chars(event.get("delta") or {})
            inp, out = self.calls[self.current]
            estimate = max(out, self.streamed_chars // 4)
            if estimate - out < ESTIMATE_STEP:
                return 0, 0.0
            self.calls[self.current] = (inp, estimate)
        elif kind == "message_delta" and self.current in self.calls:
            usage = event.get("usage") or {}
            inp, _estimate = self.calls[self.current]
            self.calls[self.current] = (
                max(inp, _input_tokens(usage)),
                int(usage.get("output_tokens") or 0),
            )
        else:
            return 0, 0.0
        return self._delta(*self._totals())

    def on_result(self, message: dict[str, Any]) -> tuple[int, float]:
        """Claude Code's own totals replace the estimate (they may be lower or higher)."""
        usage = message.get("usage") or {}
        tokens = _input_tokens(usage) + int(usage.get("output_tokens") or 0)
        if tokens:
            self.final_split = (_input_tokens(usage), int(usage.get("output_tokens") or 0))
        cost = message.get("total_cost_usd")
        estimate_tokens, estimate_cost = self._totals()
        return self._delta(
            tokens or estimate_tokens,
            float(cost) if isinstance(cost, int | float) else estimate_cost,
        )

    def split(self) -> tuple[int, int]:
        """Input (cache reads and writes included) and output tokens so far."""
        if self.final_split is not None:
            return self.final_split
        return (sum(i for i, _ in self.calls.values()), sum(o for _, o in self.calls.values()))

    def split_delta(self) -> tuple[int, int]:
        """The split since the last call (what `report_usage` adds up)."""
        now, before = self.split(), self.reported_split
        self.reported_split = now
        return now[0] - before[0], now[1] - before[1]

    def _totals(self) -> tuple[int, float]:
        price_in, price_out = price_of(self.model)
        tokens = sum(i + o for i, o in self.calls.values())
        cost = sum(i * price_in + o * price_out for i, o in self.calls.values()) / 1e6
        return tokens, cost

    def _delta(self, tokens: int, cost: float) -> tuple[int, float]:
        delta = (tokens - self.reported_tokens, round(cost - self.reported_cost, 10))
        self.reported_tokens, self.reported_cost = tokens, cost
        return delta


def _delta_chars(delta: dict[str, Any]) -> int:
    text = delta.get("text") or delta.get("partial_json") or delta.get("thinking") or ""
    return len(text) if isinstance(text, str) else 0


def _input_tokens(usage: dict[str, Any]) -> int:
    return sum(
        int(usage.get(key) or 0)
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


@dataclass
class ToolCall:
    tool: str
    summary: str
    outcome: str
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "summary": self.summary,
            "outcome": self.outcome,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Tools:
    """Open tool uses (by id), closed by their results into ToolCalls."""

    cwd: str = ""
    open: dict[str, tuple[str, str, float]] = field(default_factory=dict)

    def started(self, message: dict[str, Any], now: float) -> list[str]:
        """Lines for the tool uses of an `assistant` message; remembers them."""
        lines = []
        for block in (message.get("message") or {}).get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                name = str(block.get("name") or "?")
                summary = summarize(name, block.get("input") or {}, self.cwd)
                self.open[str(block.get("id"))] = (name, summary, now)
                lines.append(f"tool {name}: {summary}")
        return lines

    def finished(self, message: dict[str, Any], now: float) -> list[ToolCall]:
        calls = []
        for block in (message.get("message") or {}).get("content") or []:
            if not (isinstance(block, dict) and block.get("type") == "tool_result"):
                continue
            name, summary, began = self.open.pop(str(block.get("tool_use_id")), ("?", "", now))
            outcome = "error" if block.get("is_error") else "ok"
            calls.append(ToolCall(name, summary, outcome, int(max(0.0, now - began) * 1000)))
        return calls


def summarize(tool: str, arguments: dict[str, Any], cwd: str = "") -> str:
    """The target of a tool call: its file, command or pattern, in one short line."""
    for key in ("file_path", "notebook_path", "path", "command", "pattern", "url", "query"):
        value = arguments.get(key)
        if isinstance(value, str) and value:
            if cwd and value.startswith(cwd.rstrip("/") + "/"):
                value = value[len(cwd.rstrip("/")) + 1 :]
            return _one_line(value)
    return _one_line(json.dumps(arguments, sort_keys=True, default=str))


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1] + "…"


def log_line(message: dict[str, Any]) -> str | None:
    """One readable line for a `system` or `result` message (the others are written by
    `LiveText` as they stream, or as tool lines)."""
    kind = message.get("type")
    if kind == "system":
        sub = message.get("subtype")
        if sub == "init":
            return (
                f"claude: session {message.get('session_id')} model {message.get('model')} "
                f"permission {message.get('permissionMode')} cwd {message.get('cwd')}"
            )
        if sub == "api_retry":
            return (
                f"claude: API retry {message.get('attempt')}/{message.get('max_retries')}"
                f" ({message.get('error_status') or message.get('error')})"
            )
        return f"claude: {sub} {message.get('status') or ''}".rstrip()
    if kind == "result":
        cost = message.get("total_cost_usd")
        return (
            f"result: {message.get('subtype')} after {message.get('num_turns')} turns, "
            f"cost ${float(cost or 0):.4f}"
        )
    return None


@dataclass
class LiveText:
    """The log text of `stream_event` messages: each model call's start and end, and the
    assistant's words as they stream (so `houston logs -f` shows them live)."""

    open_text: set[int] = field(default_factory=set)

    def text_of(self, event: dict[str, Any]) -> str:
        kind = event.get("type")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            return f"model call: {_input_tokens(usage)} input tokens\n"
        if kind == "content_block_start":
            if (event.get("content_block") or {}).get("type") == "text":
                self.open_text.add(int(event.get("index") or 0))
                return "assistant: "
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return str(delta.get("text") or "")
        elif kind == "content_block_stop":
            if int(event.get("index") or 0) in self.open_text:
                self.open_text.discard(int(event.get("index") or 0))
                return "\n"
        elif kind == "message_delta":
            stop = (event.get("delta") or {}).get("stop_reason")
            out = (event.get("usage") or {}).get("output_tokens")
            return f"model call ended ({stop}): {out} output tokens\n"
        return ""
