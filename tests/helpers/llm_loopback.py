"""A scripted OpenAI-compatible chat server on 127.0.0.1 (port 0) for engine tests.

It counts requests in flight (and the most seen at once) so that tests can prove how many
model calls ran concurrently. By a word in the messages (a task's inputs reach them):
`mode:hold` answers once `release` is set or `target` requests are in flight together;
`mode:hang` answers only once `release` is set; `mode:drip` streams many small chunks
slowly (for budget stops mid-stream); anything else answers at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Script:
    def __init__(self, target: int = 0) -> None:
        self.target = target
        self.release = threading.Event()
        self.cond = threading.Condition()
        self.in_flight = 0
        self.most = 0
        self.served = 0

    def enter(self) -> None:
        with self.cond:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.cond.notify_all()

    def leave(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.served += 1
            self.cond.notify_all()

    def hold(self, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        with self.cond:
            while not self.release.is_set() and (not self.target or self.in_flight < self.target):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(min(left, 0.05))

    def wait_in_flight(self, count: int, seconds: float = 20.0) -> bool:
        deadline = time.monotonic() + seconds
        with self.cond:
            while self.in_flight < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


def handler_for(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.enter()
            try:
                self.answer_for(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (its worker was killed or it was stopped)
            finally:
                script.leave()

        def answer_for(self, body: dict[str, Any]) -> None:
            model = body.get("model")
            words = json.dumps(body["messages"])
            if "mode:hold" in words:
                script.hold()
            elif "mode:hang" in words:
                script.release.wait(30)
            if "mode:drip" in words:
                return self.drip()
            self.send_json(
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "done"},
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(words) // 4,
                        "completion_tokens": 1,
                        "total_tokens": len(words) // 4 + 1,
                    },
                }
            )
            return None

        def send_json(self, data: dict[str, Any]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def drip(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(2000):  # 20 s at most; a budget stop ends it long before
                if script.release.is_set():
                    break
                chunk = {"choices": [{"index": 0, "delta": {"content": "word "}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets concurrent clients


@contextmanager
def loopback(script: Script) -> Iterator[str]:
    """Serve `script` on 127.0.0.1:0; yields the base URL (…/v1)."""
    server = Server(("127.0.0.1", 0), handler_for(script))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        script.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
