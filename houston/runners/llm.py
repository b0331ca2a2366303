"""The `llm` runner: an agent's prompt sent to an OpenAI-compatible chat-completions API.

Works with ollama, llama.cpp's server, vLLM and hosted APIs. Settings, first found wins:
the agent's front matter (`model`, `base_url`, `api_key_env`, `temperature`, `max_tokens`,
`stream`), the job's env (mission config), then the process environment
(`HOUSTON_LLM_BASE_URL`, `HOUSTON_LLM_MODEL`, `HOUSTON_LLM_API_KEY`, `HOUSTON_LLM_TIMEOUT`).
Default endpoint: a local ollama at http://127.0.0.1:11434/v1.

The system message is the agent body; the user message carries the task inputs as JSON.
Streamed tokens are written to stdout (the attempt's stdout.log, which the engine turns
into `attempt.log` events). Token usage comes from the response's `usage` (requested with
`stream_options.include_usage`); while streaming, an estimate is reported every few chunks
so the engine can stop a run that blows its budget, and the final report corrects it.
An unreachable endpoint, a timeout, a rejected key or an unknown model is a RunnerError
with a fix, never a hang: every socket operation has a timeout. A stream that ends without
a `finish_reason` or without `data: [DONE]` was cut (llama.cpp does so when it interrupts a
request): that is a failed attempt, never a success with the text received so far.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from houston.errors import RunnerError
from houston.runners import AgentContext, Job, Outcome, write_output

DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"
DEFAULT_MODEL = "llama3.2"
DEFAULT_TIMEOUT = 120.0
ESTIMATE_EVERY = 32  # chunks between interim usage reports while streaming


@dataclass(frozen=True)
class Settings:
    base_url: str
    model: str
    api_key: str | None
    timeout: float
    stream: bool
    temperature: float | None
    max_tokens: int | None

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def settings_for(job: Job, environ: Mapping[str, str] | None = None) -> Settings:
    """Pure: agent keys, then job env, then the process environment."""
    env = {**(os.environ if environ is None else environ), **job.env}
    agent = job.agent
    key_env = str(agent.get("api_key_env") or "HOUSTON_LLM_API_KEY")
    timeout = float(env.get("HOUSTON_LLM_TIMEOUT") or DEFAULT_TIMEOUT)
    if job.timeout:
        timeout = min(timeout, float(job.timeout))
    stream = agent.get("stream")
    # Only the agent's own cap is sent: a mission budget can exceed a model's context, and
    # some servers (vLLM) reject such a request; budgets are enforced from usage reports.
    max_tokens = agent.get("max_tokens")
    return Settings(
        base_url=str(agent.get("base_url") or env.get("HOUSTON_LLM_BASE_URL") or DEFAULT_BASE_URL),
        model=str(agent.get("model") or env.get("HOUSTON_LLM_MODEL") or DEFAULT_MODEL),
        api_key=env.get(key_env) or None,
        timeout=timeout,
        stream=env.get("HOUSTON_LLM_STREAM", "1") != "0" if stream is None else bool(stream),
        temperature=agent.get("temperature"),
        max_tokens=int(max_tokens) if max_tokens else None,
    )


def build_messages(prompt: str, inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    messages = []
    if prompt.strip():
        messages.append({"role": "system", "content": prompt.strip()})
    body = "Inputs:\n```json\n" + json.dumps(inputs, indent=2, default=str) + "\n```"
    messages.append({"role": "user", "content": body if inputs else "Begin."})
    return messages


def build_request(settings: Settings, messages: list[dict[str, str]]) -> dict[str, Any]:
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
    return RunnerError(f"the llm endpoint answered {exc.code}: {text}", where=settings.endpoint)


def _error_text(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data)[:300]


@dataclass
class StreamEnd:
    """Set by `sse_events` when the stream's `data: [DONE]` arrives."""

    done: bool = False


def sse_events(lines: Iterator[bytes], end: StreamEnd | None = None) -> Iterator[dict[str, Any]]:
    """`data: {...}` lines of a server-sent event stream, until `data: [DONE]`."""
    for raw in lines:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            if end is not None:
                end.done = True
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


def _write_out(text: str) -> None:
    write_output(text.encode("utf-8"))


def _usage(data: Any) -> dict[str, int] | None:
    if not isinstance(data, dict):
        return None
    return {k: int(v) for k, v in data.items() if isinstance(v, int)}


def read_stream(response: Any, ctx: AgentContext, prompt_estimate: int) -> Reply:
    reply = Reply()
    chunks = 0
    end = StreamEnd()
    for event in sse_events(iter(response.readline, b""), end):
        if "error" in event:
            detail = _error_text(json.dumps(event))
            raise RunnerError(f"the llm endpoint failed mid-stream: {detail}")
        reply.usage = _usage(event.get("usage")) or reply.usage
        for choice in event.get("choices") or []:
            delta = (choice.get("delta") or {}).get("content") or ""
            if delta:
                reply.text += delta
                _write_out(delta)
                chunks += 1
            reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
        if chunks and chunks % ESTIMATE_EVERY == 0 and reply.usage is None:
            interim = prompt_estimate + estimate_tokens(reply.text)
            ctx.report_usage(tokens=interim - reply.reported)
            reply.reported = interim
    _check_stream_end(end, reply)
    return reply


def _check_stream_end(end: StreamEnd, reply: Reply) -> None:
    missing = [name for name, seen in (("finish_reason", reply.finish_reason is not None),
                                        ("data: [DONE]", end.done)) if not seen]
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
    )
    _write_out(reply.text)
    return reply


class LlmRunner:
    name = "llm"

    def run(self, job: Job, ctx: AgentContext) -> Outcome:
        settings = settings_for(job)
        messages = build_messages(job.prompt, job.inputs)
        prompt_estimate = estimate_tokens("".join(m["content"] for m in messages))
        response = post(settings, build_request(settings, messages))
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
        estimated = reply.usage is None or "total_tokens" not in reply.usage
        total = (
            prompt_estimate + estimate_tokens(reply.text)
            if estimated or reply.usage is None
            else reply.usage["total_tokens"]
        )
        if total > reply.reported:
            ctx.report_usage(tokens=total - reply.reported)
        return Outcome(ok=True, result=_result(settings, reply, total, estimated))


def _result(settings: Settings, reply: Reply, total: int, estimated: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "text": reply.text,
        "model": settings.model,
        "finish_reason": reply.finish_reason,
        "usage": {**(reply.usage or {}), "total_tokens": total, "estimated": estimated},
    }
    try:
        parsed = json.loads(reply.text)
    except ValueError:
        return result
    result["data"] = parsed  # agents asked for JSON get it parsed for the next task
    return result


RUNNER = LlmRunner()
