"""The `llm` runner's wire: one chat-completions exchange with an OpenAI-compatible API.

Works with ollama, llama.cpp's server, vLLM and hosted APIs (settings:
houston.runners.llm_settings; the agent loop, prompts and tools: houston.runners.llm).
Streamed tokens are written to stdout (the attempt's stdout.log, which the engine turns into
`attempt.log` events); streamed tool calls are put back together from their deltas. Token
usage comes from the response's `usage` (requested with `stream_options.include_usage`);
while streaming, an estimate is reported every few chunks so the engine can stop a run that
blows its budget, and the final report corrects it. A server that sends no usage (llama.cpp
when streaming) gets an estimate, marked `estimated`. A stream that ends without a
`finish_reason` or without `data: [DONE]` was cut (llama.cpp does so when it interrupts a
request): that is a failed attempt, never a success with the text received so far. An
unreachable endpoint, a timeout, a rejected key or an unknown model is a RunnerError with a
fix, never a hang: every socket operation has a timeout.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from houston.core.errors import RunnerError
from houston.runners import AgentContext, write_output
from houston.runners.llm_settings import Settings

ESTIMATE_EVERY = 32  # chunks between interim usage reports while streaming


def build_request(
    settings: Settings,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    response_format: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": settings.model,
        "messages": messages,
        "stream": settings.stream,
    }
    if settings.stream:
        request["stream_options"] = {"include_usage": True}
    if settings.temperature is not None:
        request["temperature"] = settings.temperature
    if settings.max_tokens:
        request["max_tokens"] = settings.max_tokens
    if tools:
        request["tools"] = tools
    if response_format:
        request["response_format"] = response_format
    return request


def _opener(url: str) -> urllib.request.OpenerDirector:
    # A proxy from the environment must never capture a loopback endpoint.
    host = urlparse(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def post(settings: Settings, payload: dict[str, Any]) -> Any:
    """Open the HTTP exchange; map every setup failure to a RunnerError."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if settings.stream else "application/json",
    }
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    if urlparse(settings.endpoint).scheme not in ("http", "https"):
        raise RunnerError(
            f"the llm base URL must be http or https: {settings.base_url}",
            fix="set HOUSTON_LLM_BASE_URL to e.g. http://127.0.0.1:11434/v1",
        )
    request = urllib.request.Request(  # noqa: S310 - the scheme was checked just above
        settings.endpoint, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        return _opener(settings.endpoint).open(request, timeout=settings.timeout)
    except urllib.error.HTTPError as exc:
        raise _http_error(settings, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RunnerError(
            f"cannot reach the llm endpoint {settings.endpoint}: {reason}",
            fix="start the model server (e.g. `ollama serve`) or set HOUSTON_LLM_BASE_URL",
        ) from None


def _http_error(settings: Settings, exc: urllib.error.HTTPError) -> RunnerError:
    try:
        detail = exc.read(4096).decode("utf-8", "replace")
    except OSError:
        detail = ""
    finally:
        exc.close()
    text = _error_text(detail) or exc.reason
    if exc.code in (400, 404) and "model" in text.lower():
        return RunnerError(
            f"unknown model {settings.model!r} at {settings.base_url}: {text}",
            fix="pull it (`ollama pull MODEL`) or set `model:` in the agent or HOUSTON_LLM_MODEL",
        )
    if exc.code == 404:
        return RunnerError(
            f"no chat-completions API at {settings.endpoint}: {text}",
            fix="check the base URL (it usually ends in /v1)",
        )
    if exc.code in (401, 403):
        return RunnerError(
            f"the llm endpoint refused the key ({exc.code}): {text}",
            fix="set HOUSTON_LLM_API_KEY (or the agent's api_key_env)",
        )
    return EndpointRefused(
        exc.code, f"the llm endpoint answered {exc.code}: {text}", where=settings.endpoint
    )


class EndpointRefused(RunnerError):
    """The endpoint answered the request with an HTTP error (its status is kept)."""

    def __init__(self, status: int, what: str, *, where: str = "") -> None:
        self.status = status
        super().__init__(what, where=where)


def _error_text(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data)[:300]


def sse_events(lines: Iterator[bytes], reply: Reply) -> Iterator[dict[str, Any]]:
    """`data: {...}` lines of a server-sent event stream; `reply.done` at `data: [DONE]`."""
    for raw in lines:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            reply.done = True
            return
        try:
            event = json.loads(data)
        except ValueError:
            continue  # keep-alive comments or junk between chunks
        if isinstance(event, dict):
            yield event


def estimate_tokens(text: str) -> int:
    """About four characters per token: only used when a server reports no usage."""
    return max(1, len(text) // 4) if text else 0


@dataclass
class Reply:
    text: str = ""
    usage: dict[str, int] | None = None
    finish_reason: str | None = None
    reported: int = 0  # tokens already reported to the engine
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


def _write_out(text: str) -> None:
    write_output(text.encode("utf-8"))


def _usage(data: Any) -> dict[str, int] | None:
    if not isinstance(data, dict):
        return None
    return {k: int(v) for k, v in data.items() if isinstance(v, int)}


def _merge_tool_delta(calls: list[dict[str, Any]], delta: dict[str, Any]) -> None:
    """Streamed tool calls come in pieces keyed by index; arguments are concatenated."""
    index = delta.get("index")
    index = len(calls) if not isinstance(index, int) else index
    while len(calls) <= index:
        calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    call = calls[index]
    call["id"] = delta.get("id") or call["id"]
    function = delta.get("function") or {}
    call["function"]["name"] += function.get("name") or ""
    arguments = function.get("arguments")
    if isinstance(arguments, dict):  # some servers send an object, not text
        arguments = json.dumps(arguments)
    call["function"]["arguments"] += arguments or ""


def read_stream(response: Any, ctx: AgentContext, prompt_estimate: int) -> Reply:
    reply = Reply()
    chunks = 0
    for event in sse_events(iter(response.readline, b""), reply):
        if "error" in event:
            detail = _error_text(json.dumps(event))
            raise RunnerError(f"the llm endpoint failed mid-stream: {detail}")
        reply.usage = _usage(event.get("usage")) or reply.usage
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            for piece in delta.get("tool_calls") or []:
                _merge_tool_delta(reply.tool_calls, piece)
            content = delta.get("content") or ""
            if content:
                reply.text += content
                _write_out(content)
                chunks += 1
            reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
        if chunks and chunks % ESTIMATE_EVERY == 0 and reply.usage is None:
            interim = prompt_estimate + estimate_tokens(reply.text)
            ctx.report_usage(tokens=interim - reply.reported)
            reply.reported = interim
    _check_stream_end(reply)
    return reply


def _check_stream_end(reply: Reply) -> None:
    missing = [
        name
        for name, seen in (
            ("finish_reason", reply.finish_reason is not None),
            ("data: [DONE]", reply.done),
        )
        if not seen
    ]
    if missing:
        raise RunnerError(
            f"the llm stream was cut after {len(reply.text)} characters "
            f"(no {' and no '.join(missing)}): the answer is incomplete",
            fix="check the model server's log (was the request interrupted?), then retry",
        )


def read_whole(response: Any) -> Reply:
    try:
        data = json.loads(response.read())
    except ValueError as exc:
        raise RunnerError(f"the llm endpoint did not answer JSON: {exc}") from None
    choices = data.get("choices") or [{}]
    message = choices[0].get("message") or {}
    reply = Reply(
        text=str(message.get("content") or ""),
        usage=_usage(data.get("usage")),
        finish_reason=choices[0].get("finish_reason"),
        done=True,
    )
    for call in message.get("tool_calls") or []:
        _merge_tool_delta(reply.tool_calls, {**call, "index": len(reply.tool_calls)})
    _write_out(reply.text)
    return reply


def call_model(settings: Settings, request: dict[str, Any], ctx: AgentContext) -> Reply:
    """One exchange; the tokens it used are reported to the engine before it returns."""
    prompt_estimate = estimate_tokens(json.dumps(request["messages"]))
    response = post(settings, request)
    try:
        with response:
            reply = (
                read_stream(response, ctx, prompt_estimate)
                if settings.stream
                else read_whole(response)
            )
    except TimeoutError as exc:
        raise RunnerError(
            f"the llm endpoint {settings.endpoint} stopped answering: {exc}",
            fix="raise HOUSTON_LLM_TIMEOUT or check the model server",
        ) from None
    _write_out("\n")
    reported_total = reply.usage is not None and "total_tokens" in reply.usage
    total = (
        (reply.usage or {}).get("total_tokens", 0)
        if reported_total
        else (prompt_estimate + estimate_tokens(reply.text + json.dumps(reply.tool_calls)))
    )
    if not reported_total:
        reply.usage = {**(reply.usage or {}), "total_tokens": total, "estimated": 1}
    input_tokens, output_tokens = token_split(reply.usage, total, prompt_estimate)
    # The interim reports carried no split: this one brings the call's whole split.
    ctx.report_usage(
        tokens=max(0, total - reply.reported),
        model=settings.recorded_model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    reply.reported = total
    return reply


def token_split(usage: dict[str, int] | None, total: int, prompt_estimate: int) -> tuple[int, int]:
    """Pure: a call's (input, output) tokens: the server's `prompt_tokens` and
    `completion_tokens`, else the prompt's estimate and the rest of the total."""
    usage = usage or {}
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    prompt = min(prompt_estimate, total)
    return prompt, total - prompt
