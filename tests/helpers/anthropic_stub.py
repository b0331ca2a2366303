"""A scripted loopback stand-in for the Anthropic Messages API, for the real Claude Code CLI.

`POST /v1/messages` answers with a streamed (SSE) or whole message. Which answer: the
first user message of the conversation names a script with `[script:NAME]`; the number
of assistant turns already in the conversation picks the step of that script. A step is a
list of content blocks (`text(...)`, `tool_use(...)`); the last step ends the turn. A
request that names no script (Claude Code's own side requests) gets a short text answer.

`pause` on a step makes the server wait (until `release()` or a deadline) before it sends
that step: tests use it to act on a session while it is in the middle of a turn.
`{cwd}` in a tool's arguments is replaced by the session's working folder.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SCRIPT = re.compile(r"\[script:([A-Za-z0-9_.-]+)\]")


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "name": name, "input": arguments}


@dataclass
class Step:
    blocks: list[dict[str, Any]]
    input_tokens: int = 100
    output_tokens: int = 50
    pause: bool = False
    chunk: int = 0  # > 0: stream text in pieces of this many characters, a moment apart


@dataclass
class Stub:
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def release(self) -> None:
        self.released.set()

    def step_for(self, body: dict[str, Any]) -> Step:
        messages = body.get("messages") or []
        name = _script_name(messages)
        steps = self.scripts.get(name or "")
        if not steps:
            return Step([text("ok")], input_tokens=10, output_tokens=2)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        return steps[min(turn, len(steps) - 1)]


def _script_name(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        texts = (
            [content]
            if isinstance(content, str)
            else [str(part.get("text") or "") for part in content or [] if isinstance(part, dict)]
        )
        for piece in texts:
            if found := _SCRIPT.search(piece):
                return found.group(1)
        return None
    return None


_CWD = re.compile(r"[Ww]orking directory: ([^\s\\\"]+)")


def with_cwd(step: Step, body: dict[str, Any]) -> Step:
    """`{cwd}` in a tool's arguments becomes the session's working folder, read from the
    system prompt Claude Code sends (its tools want absolute paths)."""
    found = _CWD.search(json.dumps(body.get("system") or ""))
    if not found:
        return step
    blocks = json.loads(json.dumps(step.blocks).replace("{cwd}", found.group(1)))
    return Step(blocks, step.input_tokens, step.output_tokens, step.pause, step.chunk)


def _events(step: Step, model: str, number: int) -> Iterator[tuple[str, dict[str, Any]]]:
    ends_with_tool = any(b["type"] == "tool_use" for b in step.blocks)
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{number}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": step.input_tokens, "output_tokens": 1},
            },
        },
    )
    for index, block in enumerate(step.blocks):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            size = step.chunk or len(block["text"]) or 1
            for at in range(0, max(1, len(block["text"])), size):
                piece = block["text"][at : at + size]
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                if step.chunk:
                    time.sleep(0.005)
        else:
            start = {
                "type": "tool_use",
                "id": f"toolu_{number}_{index}",
                "name": block["name"],
                "input": {},
            }
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(block["input"]),
                    },
                },
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "tool_use" if ends_with_tool else "end_turn",
                "stop_sequence": None,
            },
            "usage": {"output_tokens": step.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _whole(step: Step, model: str, number: int) -> dict[str, Any]:
    content = []
    for index, block in enumerate(step.blocks):
        if block["type"] == "tool_use":
            block = {**block, "id": f"toolu_{number}_{index}"}
        content.append(block)
    ends_with_tool = any(b["type"] == "tool_use" for b in step.blocks)
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if ends_with_tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": step.input_tokens, "output_tokens": step.output_tokens},
    }


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._json(200, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                self._json(200, {"input_tokens": 10})
                return
            stub.requests.append(body)
            number = len(stub.requests)
            step = with_cwd(stub.step_for(body), body)
            if step.pause:
                stub.paused.set()
                stub.released.wait(timeout=60)
            model = str(body.get("model") or "claude-sonnet-4-5")
            if not body.get("stream"):
                self._json(200, _whole(step, model, number))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for name, data in _events(step, model, number):
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            self.close_connection = True

        def _json(self, code: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


def start(stub: Stub) -> Stub:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    server.request_queue_size = 64
    stub.server = server
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return stub


def stop(stub: Stub) -> None:
    stub.release()
    if stub.server is not None:
        stub.server.shutdown()
        stub.server.server_close()


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `predicate` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
