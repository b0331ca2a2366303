"""A small OpenAI-compatible chat server on 127.0.0.1 (port 0) with fixed answers, by model
name: `tiny` answers (streamed word by word, or one JSON body), `hang` never does (until the
server stops), `no-usage` streams without a usage chunk, `cut` and `no-done` stop a stream
early; any other model is a 404 as Ollama words it. Every request is kept in
`FakeOpenAI.requests`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

KNOWN_MODEL = "tiny"
RELEASE = threading.Event()
WORDS = ["Hello", " Ada", ",", " your", " refund", " is", " on", " its", " way", "."]


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.path != "/v1/chat/completions":
            return self.answer(404, {"error": "404 page not found"})
        if body["model"] == "hang":
            RELEASE.wait(10)  # far longer than the client's 1 s timeout
            return None
        if body["model"] == "no-usage":
            return self.stream(body, words=["tok "] * 70, usage=False)
        if body["model"] in ("cut", "no-done"):
            return self.stream(body, last=body["model"] == "no-done", done=False)
        if body["model"] != KNOWN_MODEL:
            return self.answer(
                404,
                {
                    "error": {
                        "message": f'model "{body["model"]}" not found, try pulling it first',
                        "type": "api_error",
                    }
                },
            )
        if body.get("stream"):
            return self.stream(body)
        return self.answer(
            200,
            {
                "id": "c1",
                "object": "chat.completion",
                "model": KNOWN_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": '{"category": "billing"}'},
                    }
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 7, "total_tokens": 47},
            },
        )

    def answer(self, code: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def stream(
        self,
        body: dict[str, Any],
        words: list[str] = WORDS,
        usage: bool = True,
        last: bool = True,
        done: bool = True,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in words:
            chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        if not last:
            return  # cut mid-answer, as llama.cpp does when it interrupts a request
        final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        if usage and body.get("stream_options", {}).get("include_usage"):
            usage_chunk = {
                "choices": [],
                "usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40},
            }
            self.wfile.write(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        if done:
            self.wfile.write(b"data: [DONE]\n\n")


@contextmanager
def openai_stub() -> Iterator[str]:
    """The server, running: yields its base URL (`http://127.0.0.1:PORT/v1`)."""
    FakeOpenAI.requests = []
    RELEASE.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        RELEASE.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
