"""OpenTelemetry export: every finished mission as a tree of spans, over OTLP/HTTP, only
when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (nothing leaves the machine otherwise).

Spans follow the OpenTelemetry GenAI semantic conventions, version `SEMCONV_VERSION`
(pinned: the GenAI conventions are still "development" and renamed attributes before):

    invoke_workflow <mission>        gen_ai.operation.name=invoke_workflow
      invoke_agent <agent>           one per task; gen_ai.agent.name
        attempt <task> #<n>          one per attempt; houston.attempt.* (exit reason, worker)
          chat <model>               an attempt that called a model; gen_ai.request.model,
                                     gen_ai.usage.input_tokens / output_tokens
          execute_tool <tool>        one per `tool.call` event; gen_ai.tool.name

Spans are built after the mission completes, from its files and the event log (times are
the recorded ones), so a crash of the exporter never touches a run. `mission_spans` is
pure; `Tracing` follows the event log in a thread of `houston run` / `houston serve`.
The SDK and the exporter are the `otel` extra, imported only when the variable is set.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from houston.core.lifecycle import Outcome
from houston.core.taskstate import ExitReason, TaskState
from houston.core.timestamps import parse_time
from houston.home import attemptfiles, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.home.events import EventLog, EventTail, add_listener, remove_listener
from houston.home.layout import Home
from houston.home.store import MissionStore

SEMCONV_VERSION = "1.37.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
POLL_SECONDS = 1.0


@dataclass
class SpanRecord:
    key: str
    parent: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _ns(text: Any, default: int) -> int:
    parsed = parse_time(text)
    return int(parsed.timestamp() * 1e9) if parsed else default


def mission_spans(
    detail: Mapping[str, Any],
    tools: list[dict[str, Any]],
    models: Mapping[tuple[str, int], dict[str, Any]],
) -> list[SpanRecord]:
    """Pure: the span tree of one mission. `detail` is the API's mission detail (status,
    tasks, attempts), `tools` its `tool.call` events, `models` what each attempt's model
    call reported: {(task, attempt): {"model", "input_tokens", "output_tokens"}}."""
    start = _ns(detail.get("started") or detail.get("created"), 0)
    end = _ns(detail.get("finished"), start)
    spans = [_mission_span(detail, start, end)]
    attempts = [a for a in detail.get("attempts") or [] if a.get("started")]
    for task in detail.get("tasks") or []:
        mine = [a for a in attempts if a["task"] == task["id"]]
        if not mine:
            continue
        spans.append(_task_span(task, mine, start, end))
        for a in mine:
            spans.extend(_attempt_spans(task["id"], a, end, tools, models))
    return spans


def _mission_span(detail: Mapping[str, Any], start: int, end: int) -> SpanRecord:
    return SpanRecord(
        "mission",
        None,
        f"invoke_workflow {detail.get('name')}",
        start,
        end,
        {
            "gen_ai.operation.name": "invoke_workflow",
            "houston.mission.id": detail.get("id"),
            "houston.mission.outcome": detail.get("outcome") or "",
            "gen_ai.usage.tokens": int((detail.get("usage") or {}).get("tokens") or 0),
        },
        None if detail.get("outcome") == Outcome.SUCCEEDED else str(detail.get("outcome")),
    )


def _task_span(
    task: Mapping[str, Any], attempts: list[dict[str, Any]], start: int, end: int
) -> SpanRecord:
    """A task's span runs from its first attempt's start to its last attempt's end."""
    t_start = min(_ns(a["started"], start) for a in attempts)
    t_end = max(_ns(a.get("finished"), end) for a in attempts)
    return SpanRecord(
        f"task:{task['id']}",
        "mission",
        f"invoke_agent {task.get('agent')}",
        t_start,
        t_end,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": task.get("agent"),
            "houston.task.id": task["id"],
            "houston.task.state": task.get("state"),
        },
        task.get("error") if task.get("state") == TaskState.FAILED else None,
    )


def _attempt_spans(
    task: str,
    a: Mapping[str, Any],
    end: int,
    tools: list[dict[str, Any]],
    models: Mapping[tuple[str, int], dict[str, Any]],
) -> list[SpanRecord]:
    key = f"attempt:{task}#{a['attempt']}"
    a_start, a_end = _ns(a["started"], end), _ns(a.get("finished"), end)
    failed = a.get("reason") not in (ExitReason.SUCCEEDED, TaskState.RUNNING)
    spans = [
        SpanRecord(
            key,
            f"task:{task}",
            f"attempt {task} #{a['attempt']}",
            a_start,
            a_end,
            {
                "houston.attempt.number": a["attempt"],
                "houston.attempt.exit_reason": a.get("reason"),
                "houston.attempt.worker": a.get("worker") if a.get("worker") is not None else -1,
            },
            (a.get("error") or a.get("reason")) if failed else None,
        )
    ]
    model = models.get((task, int(a["attempt"])))
    if model:
        spans.append(_model_span(key, model, a_start, a_end))
    mine = [t for t in tools if t.get("task") == task and t.get("attempt") == a["attempt"]]
    spans.extend(_tool_span(key, i, tool) for i, tool in enumerate(mine))
    return spans


def _model_span(attempt_key: str, model: Mapping[str, Any], start: int, end: int) -> SpanRecord:
    """The attempt's model calls as one span over the attempt (their usage is summed)."""
    return SpanRecord(
        f"{attempt_key}:chat",
        attempt_key,
        f"chat {model['model']}",
        start,
        end,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model["model"],
            "gen_ai.usage.input_tokens": int(model.get("input_tokens") or 0),
            "gen_ai.usage.output_tokens": int(model.get("output_tokens") or 0),
        },
    )


def _tool_span(attempt_key: str, index: int, tool: Mapping[str, Any]) -> SpanRecord:
    """One `tool.call` event: it is logged when the call ends, with its duration."""
    data = tool.get("data") or {}
    t_end = int(float(tool.get("ts") or 0) * 1e9)
    t_start = t_end - int(float(data.get("duration_ms") or 0) * 1e6)
    return SpanRecord(
        f"{attempt_key}:tool{index}",
        attempt_key,
        f"execute_tool {data.get('tool')}",
        t_start,
        t_end,
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": str(data.get("tool")),
            "houston.tool.summary": str(data.get("summary") or ""),
            "houston.tool.outcome": str(data.get("outcome") or ""),
        },
        None if data.get("outcome") in (None, "ok") else str(data.get("outcome")),
    )


def attempt_models(
    mission_path: Any, attempts: list[dict[str, Any]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """What each attempt's model call reported, from its usage.json and result.json."""
    from houston.views.costs import UNKNOWN_MODEL, spend_of

    found: dict[tuple[str, int], dict[str, Any]] = {}
    for a in attempts:
        folder = taskfiles.attempt_path(mission_path, a["task"], int(a["attempt"]))
        usage, result = attemptfiles.read_usage(folder), attemptfiles.read_result(folder)
        if usage is None and (result is None or "model" not in result):
            continue
        spend = spend_of("", "", usage or UsageRecord(), result)
        if spend.model != UNKNOWN_MODEL:
            found[(a["task"], int(a["attempt"]))] = {
                "model": spend.model,
                "input_tokens": spend.input_tokens,
                "output_tokens": spend.output_tokens,
            }
    return found


def is_configured(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


class Tracing:
    """Follows the event log; exports each mission that completes, as spans."""

    def __init__(self, home: Home, provider: Any) -> None:
        self.store = MissionStore(home)
        self.log = EventLog(home.events)
        self.tail = EventTail(self.log, after=self.log.last_id())
        self.provider = provider
        self.tracer = provider.get_tracer("houston", schema_url=SCHEMA_URL)
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="houston-otel", daemon=True)

    def start(self) -> Tracing:
        add_listener(self.log.folder, self.wake.set)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Export what finished up to now, flush, and stop the exporter."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=10)
        remove_listener(self.log.folder, self.wake.set)
        self.tail.close()
        self.log.close()
        self.provider.shutdown()

    def _loop(self) -> None:
        while True:
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()
            self.catch_up()
            if self.stopping:
                return

    def catch_up(self) -> None:
        for event in self.tail.poll():
            data = event.get("data") or {}
            if event.get("type") == "mission.state" and data.get("state") == "COMPLETED":
                try:
                    self.export(str(event["mission"]))
                except Exception as exc:  # tracing must never stop a run: say it, go on
                    sys.stderr.write(f"otel: mission {event['mission']} not exported: {exc}\n")

    def export(self, mission_id: str) -> None:
        from houston.views.events import mission_events
        from houston.views.mission import mission_detail

        ref = self.store.locate(mission_id)
        found = mission_detail(self.store, ref)
        events = mission_events(self.log, ref.id, found.get("started"))
        tools = [e for e in events if e.get("type") == "tool.call"]
        emit(self.tracer, mission_spans(found, tools, attempt_models(ref.path, found["attempts"])))


def emit(tracer: Any, spans: list[SpanRecord]) -> None:
    """Hand the records to the SDK with their recorded times, parents first."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    contexts: dict[str, Any] = {}
    for record in spans:
        parent = contexts.get(record.parent) if record.parent else None
        span = tracer.start_span(
            record.name,
            context=parent,
            start_time=record.start_ns,
            attributes=record.attributes,
            kind=trace.SpanKind.INTERNAL,
        )
        if record.error:
            span.set_status(Status(StatusCode.ERROR, record.error))
        contexts[record.key] = trace.set_span_in_context(span)
        span.end(end_time=max(record.end_ns, record.start_ns))


def start_if_configured(home: Home, environ: Mapping[str, str] | None = None) -> Tracing | None:
    """A running `Tracing` when an OTLP endpoint is configured, else None (no import)."""
    environ = os.environ if environ is None else environ
    if not is_configured(environ):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from houston import __version__

    resource = Resource.create(
        {
            "service.name": environ.get("OTEL_SERVICE_NAME", "houston"),
            "service.version": __version__,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(home, provider).start()
