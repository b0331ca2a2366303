"""OpenTelemetry export: `houston run` with OTEL_EXPORTER_OTLP_ENDPOINT sends the finished
mission as GenAI spans to a loopback OTLP/HTTP receiver, which decodes each request with
the OpenTelemetry protobuf definitions; without the variable nothing is sent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from houston.home.layout import Home
from houston.otel import SCHEMA_URL, mission_spans

MISSION = b"""name: traced
tasks:
  - id: think
    agent: core/shell
    inputs:
      command: 'echo "{\\"usage\\": {\\"tokens\\": 30, \\"cost\\": 0.01}}"'
  - id: fail
    agent: core/shell
    inputs:
      command: 'exit 4'
on_failure: continue
"""


class Receiver(ThreadingHTTPServer):
    request_queue_size = 64
    spans: list[Any]
    resources: list[Any]
    scopes: list[Any]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)  # raises on anything that is not OTLP protobuf
        server: Any = self.server
        for resource_spans in request.resource_spans:
            server.resources.append(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                server.scopes.append(scope_spans)
                server.spans.extend(scope_spans.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.spans, server.resources, server.scopes = [], [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def attributes(span: Any) -> dict[str, Any]:
    found = {}
    for kv in span.attributes:
        value = kv.value
        found[kv.key] = getattr(value, value.WhichOneof("value"))
    return found


def run(home: Home, tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "traced.yaml"
    path.write_bytes(MISSION)
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(home.root),
        "run",
        str(path),
        "--no-ui",
        "--workers",
        "2",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 1, done.stderr  # the mission fails: one task exits 4


@pytest.mark.process
def test_a_finished_mission_is_exported_as_genai_spans(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_port}"}
    run(home, tmp_path, env)  # the exporter flushes before `houston run` exits
    by_name = {s.name: s for s in receiver.spans}
    root = by_name["invoke_workflow traced"]
    assert attributes(root)["gen_ai.operation.name"] == "invoke_workflow"
    agents = [s for s in receiver.spans if s.name == "invoke_agent core/shell"]
    assert len(agents) == 2
    assert all(s.parent_span_id == root.span_id and s.trace_id == root.trace_id for s in agents)
    assert {attributes(s)["gen_ai.agent.name"] for s in agents} == {"core/shell"}
    failed = next(s for s in agents if attributes(s)["houston.task.id"] == "fail")
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    attempt = by_name["attempt fail #1"]
    assert attempt.parent_span_id == failed.span_id
    assert attributes(attempt)["houston.attempt.exit_reason"] == "failed"
    assert attempt.end_time_unix_nano >= attempt.start_time_unix_nano > 0
    assert receiver.scopes[0].schema_url == SCHEMA_URL
    service = {kv.key: kv.value.string_value for kv in receiver.resources[0].attributes}
    assert service["service.name"] == "houston"


@pytest.mark.process
def test_nothing_is_sent_without_an_endpoint(
    home: Home, tmp_path: Path, receiver: Receiver
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    run(home, tmp_path, env)
    assert receiver.spans == []


def test_model_and_tool_calls_become_chat_and_execute_tool_spans() -> None:
    detail = {
        "id": "m",
        "name": "n",
        "outcome": "succeeded",
        "started": "2026-12-01T10:00:00Z",
        "finished": "2026-12-01T10:00:10Z",
        "tasks": [{"id": "ask", "agent": "pkg/asker", "state": "succeeded"}],
        "attempts": [
            {
                "task": "ask",
                "attempt": 1,
                "started": "2026-12-01T10:00:01Z",
                "finished": "2026-12-01T10:00:05Z",
                "reason": "succeeded",
                "worker": 1,
            }
        ],
    }
    tools = [
        {
            "task": "ask",
            "attempt": 1,
            "ts": 1_796_119_204.0,
            "data": {"tool": "Read", "summary": "a.md", "outcome": "ok", "duration_ms": 250},
        }
    ]
    models = {("ask", 1): {"model": "gemma-3-270m", "input_tokens": 12, "output_tokens": 34}}
    spans = {s.name: s for s in mission_spans(detail, tools, models)}
    chat = spans["chat gemma-3-270m"]
    assert chat.parent == "attempt:ask#1"
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "gemma-3-270m"
    assert (
        chat.attributes["gen_ai.usage.input_tokens"],
        chat.attributes["gen_ai.usage.output_tokens"],
    ) == (12, 34)
    tool = spans["execute_tool Read"]
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.end_ns - tool.start_ns == 250_000_000
    assert spans["invoke_agent pkg/asker"].attributes["gen_ai.agent.name"] == "pkg/asker"
