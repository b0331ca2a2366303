"""A loopback OpenAI-compatible chat server whose answers each test scripts.

`ScriptedLLM(answer)` listens on 127.0.0.1 port 0; `answer(body, number)` returns the
reply to the request `number` (1-based) as a dict: `content` (text), `tool_calls` (a list
of (name, arguments) pairs), `usage` (a dict, or None for a server that sends none),
`status`/`error` for an error answer, `cut` for a stream that stops before `[DONE]`.
Streaming requests get the reply in chunks (text a few characters at a time, each tool
call's arguments split in two pieces), non-streaming ones as one JSON body. Every request
body is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any], int], dict[str, Any]]
DEFAULT_USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


def text(content: str, usage: dict[str, int] | None = DEFAULT_USAGE) -> dict[str, Any]:
    return {"content": content, "usage": usage}


def tools(
    *calls: tuple[str, dict[str, Any]], usage: dict[str, int] | None = DEFAULT_USAGE
) -> dict[str, Any]:
    return {"content": "", "tool_calls": list(calls), "usage": usage}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets concurrent clients


class ScriptedLLM:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def tool_answers(self, number: int) -> list[str]:
        """The answers of the tools called in the turn before request `number` (1-based)."""
        messages = self.requests[number - 1]["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] != "tool")
        return [m["content"] for m in messages[last + 1 :]]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append(body)
                    number = len(outer.requests)
                reply = outer.answer(body, number)
                if "status" in reply:
                    return self._send(reply["status"], {"error": {"message": reply["error"]}})
                if body.get("stream"):
                    return self._stream(reply)
                return self._send(200, _whole(reply))

            def _send(self, code: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, reply: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in _chunks(reply):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                if not reply.get("cut"):  # a cut stream ends without its last chunk
                    self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _calls(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for n, (name, args) in enumerate(reply.get("tool_calls") or [])
    ]


def _whole(reply: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content") or ""}
    calls = _calls(reply)
    if calls:
        message["tool_calls"] = calls
    data: dict[str, Any] = {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
    }
    if reply.get("usage") is not None:
        data["usage"] = reply["usage"]
    return data


def _chunks(reply: dict[str, Any]) -> list[dict[str, Any]]:
    content = reply.get("content") or ""
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": content[i : i + 3]}}]}
        for i in range(0, len(content), 3)
    ]
    for index, call in enumerate(_calls(reply)):
        args = call["function"]["arguments"]
        half = len(args) // 2
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": args[:half]},
        }
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})
        rest = {"index": index, "function": {"arguments": args[half:]}}
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [rest]}}]})
    finish = "tool_calls" if reply.get("tool_calls") else "stop"
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if reply.get("usage") is not None:
        chunks.append({"choices": [], "usage": reply["usage"]})
    return chunks


def planner_answer(steps: int) -> dict[str, Any]:
    """What core-workflow's planner answers: `steps` executor steps behind the `approve`
    gate (the last needs the one before it), then a collector of them all."""
    tasks: list[dict[str, Any]] = [
        {
            "id": f"step-{n}",
            "agent": "core-workflow/executor",
            "needs": ["approve"] + ([f"step-{n - 1}"] if n == steps else []),
            "inputs": {"step": f"write part {n}", "goal": "a FAQ"},
        }
        for n in range(1, steps + 1)
    ]
    tasks.append(
        {
            "id": "report",
            "agent": "core-workflow/collector",
            "needs": [t["id"] for t in tasks],
            "inputs": {"title": "FAQ"},
        }
    )
    return {"summary": "Write the FAQ in parts.", "add_tasks": tasks}
