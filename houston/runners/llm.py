"""The `llm` runner: an agent that works in a loop with tools until it answers.

`run_llm(job, ctx)` is a plain function (it may run in a thread): it builds the messages
(houston.runners.llm_prompt), offers the agent's tools (houston.runners.tools), then asks
the model, runs the tools it calls and asks again, at most `maxTurns` times. Before every
model call the tokens spent so far plus an estimate of the request are checked against the
task's `budget.max_tokens` and the mission's tokens left (fail-closed: the call that would
pass a limit is not made). A server that refuses `json_schema` answers is asked again with
llama.cpp's `json_object` + schema.
The final answer becomes the result (houston.runners.llm_output): `text`, `data` when it
is JSON, `model`, `finish_reason`, `usage`, `turns`, `tool_calls`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from houston.runners import AgentContext, Job, Outcome
from houston.runners.context import resolved_inputs
from houston.runners.llm_output import AnswerError, response_format, shape_result
from houston.runners.llm_prompt import compose_messages, fold_system, package_knowledge
from houston.runners.llm_settings import Settings, settings_for
from houston.runners.llm_wire import (
    EndpointRefused,
    Reply,
    build_request,
    call_model,
    estimate_tokens,
)
from houston.runners.tools import ToolBox, chosen_tools, tool_names

__all__ = ["RUNNER", "Settings", "run_llm", "settings_for"]

DEFAULT_MAX_TURNS = 20


def budget_stop(limits: dict[str, Any], used: int, next_estimate: int, turn: int) -> str | None:
    """Pure: why the next model call must not be made, or None.

    The caps are the task's `max_tokens` and what its mission had left when the attempt
    started (`mission_tokens_left`, set by the engine)."""
    caps = [
        (limits.get(key), what)
        for key, what in (
            ("max_tokens", "max_tokens"),
            ("mission_tokens_left", "the mission's tokens left"),
        )
    ]
    for cap, what in caps:
        if cap is not None and (used >= cap or used + next_estimate > cap):
            return (
                f"budget_exceeded: {used} tokens spent, the next model call (turn {turn}, "
                f"about {next_estimate} tokens of prompt) would pass {what} ({cap})"
            )
    return None


def plainer_format(
    answer_format: dict[str, Any] | None, refused: EndpointRefused
) -> dict[str, Any]:
    """The response_format to ask again with when a server refused `json_schema`.

    OpenAI, ollama and vLLM take `{"type": "json_schema", ...}`; llama.cpp's Python server
    only knows `{"type": "json_object", "schema": ...}` and answers the rest with 400/422
    (older) or 500 (0.3.x fails on the unknown type inside its handler). A 500 counts as
    that refusal only for a json_schema request: any other 500 stays an error.
    """
    if (
        answer_format is None
        or answer_format.get("type") != "json_schema"
        or refused.status not in (400, 422, 500)
    ):
        raise refused
    return {"type": "json_object", "schema": answer_format["json_schema"]["schema"]}


def run_llm(job: Job, ctx: AgentContext) -> Outcome:
    # The warm worker has filled result placeholders already; a worker that calls the
    # runner directly (many llm attempts in one process) has not: this is idempotent.
    job.inputs = resolved_inputs(job)
    settings = settings_for(job)
    patterns, config = package_knowledge(job)
    messages = compose_messages(job, ctx.needs, ctx.mission_context, patterns, config)
    if settings.fold_system:
        messages = fold_system(messages)
    names = chosen_tools(job.agent)
    deadline = time.monotonic() + float(job.timeout) if job.timeout else None
    with _mcp_tools(job, ctx, names) as mcp:
        box = ToolBox(
            ctx, names, deadline, emit=lambda record: ctx.emit("tool.call", record), mcp=mcp
        )
        return _loop(job, ctx, settings, messages, box)


@contextlib.contextmanager
def _mcp_tools(job: Job, ctx: AgentContext, names: list[str]) -> Iterator[Any]:
    servers = job.agent.get("mcpServers") or {}
    wanted = [n for n in names if n.startswith("mcp__")]
    if not servers or not wanted:
        yield None
        return
    from houston.runners.tools_mcp import McpTools

    denied = tool_names(job.agent.get("disallowedTools"))
    with McpTools(servers, ctx.work_dir, wanted, denied) as mcp:
        yield mcp


def _loop(
    job: Job, ctx: AgentContext, settings: Settings, messages: list[dict[str, Any]], box: ToolBox
) -> Outcome:
    max_turns = int(job.agent.get("maxTurns") or DEFAULT_MAX_TURNS)
    schemas = box.schemas()
    answer_format = response_format(job.agent)
    used, calls, usage = 0, 0, {"prompt_tokens": 0, "completion_tokens": 0}
    estimated = False
    for turn in range(1, max_turns + 1):
        request = build_request(settings, messages, schemas, answer_format)
        stop = budget_stop(job.budget or {}, used, estimate_tokens(json.dumps(messages)), turn)
        if stop:
            print(stop, flush=True)
            return Outcome(ok=False, error=stop)
        reply, answer_format = _ask(settings, request, answer_format, ctx)
        used += reply.reported
        estimated = estimated or bool((reply.usage or {}).get("estimated"))
        for key in usage:
            usage[key] += int((reply.usage or {}).get(key) or 0)
        if not reply.tool_calls:
            meta = {
                "model": settings.recorded_model,
                "finish_reason": reply.finish_reason,
                "usage": {**usage, "total_tokens": used, "estimated": estimated},
                "turns": turn,
                "tool_calls": calls,
            }
            try:
                return Outcome(ok=True, result=shape_result(reply.text, job.agent, meta))
            except AnswerError as exc:
                return Outcome(ok=False, error=str(exc))
        calls += len(reply.tool_calls)
        messages += _tool_turn(reply, turn, box)
    error = f"maxTurns ({max_turns}) reached before the agent gave a final answer"
    print(error, flush=True)
    return Outcome(ok=False, error=error)


def _ask(
    settings: Settings,
    request: dict[str, Any],
    answer_format: dict[str, Any] | None,
    ctx: AgentContext,
) -> tuple[Reply, dict[str, Any] | None]:
    """One model call; the response_format the next calls use (plainer if refused)."""
    try:
        return call_model(settings, request, ctx), answer_format
    except EndpointRefused as exc:
        plainer = plainer_format(answer_format, exc)  # raises when there is no other form
        request["response_format"] = plainer
        return call_model(settings, request, ctx), plainer


def _tool_turn(reply: Reply, turn: int, box: ToolBox) -> list[dict[str, Any]]:
    """The assistant's tool calls and each tool's answer, as the next messages."""
    for number, call in enumerate(reply.tool_calls):
        call["id"] = call["id"] or f"call_{turn}_{number}"
    added: list[dict[str, Any]] = [
        {"role": "assistant", "content": reply.text or None, "tool_calls": reply.tool_calls}
    ]
    for call in reply.tool_calls:
        function = call["function"]
        answer, _ = box.call(function["name"], function["arguments"])
        added.append({"role": "tool", "tool_call_id": call["id"], "content": answer})
    return added


class LlmRunner:
    name = "llm"

    def run(self, job: Job, ctx: AgentContext) -> Outcome:
        return run_llm(job, ctx)


RUNNER = LlmRunner()
