"""The `claude-code` runner: an agent file run by Claude Code's headless mode.

The agent's body is appended to Claude Code's system prompt; the task's inputs, the
results of the tasks it needs and the mission context make the user prompt (on stdin:
no argument-length limit, and a closed stdin never leaves `claude -p` waiting). The agent's
Claude Code keys pass through (`tools`, `disallowedTools`, `model`, `permissionMode`,
`maxTurns`, `mcpServers`); see `claude_stream.build_argv`.

It runs in the attempt's worktree when the task has `workspace: worktree`
(`HOUSTON_WORKTREE`), else in the inputs' `cwd`, else in the attempt folder; in its own
session, registered with the worker at once, so the engine can stop its whole group
(cancel, timeout, budget). Every stream-json message goes to `claude.jsonl` in the attempt
folder; stdout.log gets a line for each system message, model call (start and end), tool
call and the result, and the assistant's words as they stream; each tool use becomes a
`tool.call` event; spend is reported as it arrives (see `Meter`).
The final `result` gives the result's `text` (or, for `output: json`, its parsed JSON), and
`session_id`, `num_turns` and cost are written to `claude-session.json`. With the agent's
`resume: true`, the next attempt resumes the previous one's session (houston.runners.claude_resume).

The executable is `HOUSTON_CLAUDE`, else `claude` on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from houston.core.errors import RunnerError
from houston.home import runnerfiles
from houston.home.coding_records import ClaudeSessionRecord
from houston.runners import AgentContext, Job, Outcome
from houston.runners.claude_stream import (
    LiveText,
    Meter,
    Tools,
    build_argv,
    build_prompt,
    log_line,
)
from houston.runners.command import build_env
from houston.runners.context import mission_context, needs_results
from houston.runners.processes import kill_attempt_processes

INSTALL_FIX = (
    "install it with `npm install -g @anthropic-ai/claude-code` (or into a folder "
    "with `npm install --prefix DIR @anthropic-ai/claude-code`), then put `claude` "
    "on PATH or set HOUSTON_CLAUDE to the executable"
)


def find_claude(env: dict[str, str]) -> str:
    configured = env.get("HOUSTON_CLAUDE")
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured
        raise RunnerError(
            f"HOUSTON_CLAUDE names {configured!r}, which is not an executable", fix=INSTALL_FIX
        )
    found = shutil.which("claude", path=env.get("PATH"))
    if found is None:
        raise RunnerError("Claude Code (`claude`) is not installed or not on PATH", fix=INSTALL_FIX)
    return found


def working_folder(job: Job) -> str:
    cwd = job.env.get("HOUSTON_WORKTREE") or job.inputs.get("cwd")
    return str(cwd) if isinstance(cwd, str) and cwd else job.attempt_dir


def child_env(job: Job, cwd: str) -> dict[str, str]:
    env = build_env(job, runnerfiles.agent_result_path(job.attempt_dir))
    # Houston sends no telemetry; neither does the agent it starts, unless the user says so.
    env.setdefault("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    if "HOUSTON_WORKTREE" in job.env:
        env["GIT_CEILING_DIRECTORIES"] = str(Path(cwd).parent)  # git stays in the worktree
    return env


class Session:
    """One running claude process, read line by line."""

    def __init__(self, job: Job, ctx: AgentContext, cwd: str) -> None:
        self.job = job
        self.ctx = ctx
        self.meter = Meter()
        self.tools = Tools(cwd=cwd)
        self.live = LiveText()
        self.result: dict[str, Any] | None = None
        self.session_id: str | None = None
        self.transcript = open(runnerfiles.claude_transcript_path(job.attempt_dir), "ab")  # noqa: SIM115

    def read(self, stream: IO[bytes]) -> None:
        with self.transcript:
            for raw in iter(stream.readline, b""):
                self.transcript.write(raw if raw.endswith(b"\n") else raw + b"\n")
                try:
                    message = json.loads(raw)
                except ValueError:
                    _say(raw.decode("utf-8", "replace").rstrip())
                    continue
                if isinstance(message, dict):
                    self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        self.session_id = message.get("session_id") or self.session_id
        if kind == "stream_event":
            event = message.get("event") or {}
            self.report(*self.meter.on_stream_event(event))
            if piece := self.live.text_of(event):
                _write(piece)
        elif kind == "assistant":
            for line in self.tools.started(message, time.monotonic()):
                _say(line)
        elif kind == "user":
            for call in self.tools.finished(message, time.monotonic()):
                _say(f"tool {call.tool} {call.outcome} in {call.duration_ms} ms: {call.summary}")
                self.emit_tool_call(call.to_dict())
        elif kind == "result":
            self.result = message
            self.report(*self.meter.on_result(message))
        summary = log_line(message)
        if summary:
            _say(summary)

    def report(self, tokens: int, cost: float) -> None:
        input_tokens, output_tokens = self.meter.split_delta()
        if tokens or cost or input_tokens or output_tokens:
            self.ctx.report_usage(
                tokens,
                cost,
                model=self.meter.model or None,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )

    def emit_tool_call(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # telemetry never fails the agent
            event_log(Path(self.job.mission_dir)).append(
                "tool.call",
                mission=self.job.mission_id,
                task=self.job.task_id,
                attempt=self.job.attempt,
                data=data,
            )


_EVENT_LOGS: dict[Path, Any] = {}


def event_log(mission_dir: Path) -> Any:
    """One EventLog per home for the worker's life (it keeps its fds open)."""
    from houston.home.events import EventLog
    from houston.home.layout import Home

    folder = Home.of_mission(mission_dir).events
    if folder not in _EVENT_LOGS:
        _EVENT_LOGS[folder] = EventLog(folder)
    return _EVENT_LOGS[folder]


def _say(line: str) -> None:
    _write(line + "\n")


def _write(text: str) -> None:
    data = text.encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def outcome_of(job: Job, session: Session, code: int) -> Outcome:
    result = session.result
    if code < 0:
        return Outcome(ok=False, error=f"claude was killed by signal {-code}", signal=-code)
    if result is None:
        return Outcome(
            ok=False,
            exit_code=code,
            error=f"claude exited with code {code} without a result (see stderr.log)",
        )
    if result.get("is_error") or code != 0:
        detail = result.get("result") or result.get("subtype") or f"exit code {code}"
        return Outcome(ok=False, exit_code=code, error=f"claude failed: {detail}")
    text = str(result.get("result") or "")
    if job.agent.get("output") == "json":
        parsed = _json_of(text)
        if not isinstance(parsed, dict):
            return Outcome(
                ok=False,
                exit_code=code,
                error="the agent declares `output: json` but its answer is not a JSON object",
            )
        return Outcome(ok=True, result=parsed, exit_code=0)
    return Outcome(
        ok=True,
        exit_code=0,
        result={
            "text": text,
            "session_id": result.get("session_id"),
            "num_turns": result.get("num_turns"),
            "cost": result.get("total_cost_usd"),
        },
    )


def _json_of(text: str) -> Any:
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError:
        return None


def session_record(session: Session) -> ClaudeSessionRecord:
    """What Claude Code's final `result` message said of the session."""
    result = session.result or {}
    return ClaudeSessionRecord.parse(
        {
            "session_id": session.session_id,
            "num_turns": result.get("num_turns"),
            "cost_usd": result.get("total_cost_usd"),
            "usage": result.get("usage"),
            "model": session.meter.model or None,
            "subtype": result.get("subtype"),
            "duration_ms": result.get("duration_ms"),
        }
    ) or ClaudeSessionRecord(session.session_id)


RESUMED = (
    "Your previous attempt at this task ended before it finished (its changes so far "
    "are committed on its own branch; this is a fresh checkout). Continue the task.\n\n"
)


def resumable(job: Job, cwd: str, env: dict[str, str]) -> str | None:
    """With the agent's `resume: true`, the session of the task's previous attempt."""
    if job.agent.get("resume") is not True or job.attempt <= 1:
        return None
    from houston.runners.claude_resume import prepare_resume

    return prepare_resume(job.attempt_dir, cwd, env)


def stop_leftovers(attempt_dir: str) -> None:
    """Claude Code starts its Bash tools in sessions of their own, which outlive it when
    it dies or is stopped: kill whatever still works for this attempt (by HOUSTON_WORK_DIR,
    which its tools inherit)."""
    kill_attempt_processes(attempt_dir)


class ClaudeCodeRunner:
    name = "claude-code"

    def run(self, job: Job, ctx: AgentContext) -> Outcome:
        env_for_lookup = {**os.environ, **job.env}
        executable = find_claude(env_for_lookup)
        if job.agent.get("permissionMode") == "bypassPermissions" and os.geteuid() == 0:
            raise RunnerError(
                "Claude Code refuses bypassPermissions when run as root",
                where=f"agent {job.agent_ref}",
                fix="use permissionMode: acceptEdits and list the agent's tools",
            )
        cwd = working_folder(job)
        needs, context = needs_results(job), mission_context(job)
        resume = resumable(job, cwd, env_for_lookup)
        prompt_path = runnerfiles.claude_prompt_path(job.attempt_dir)
        prompt = build_prompt(job.inputs, needs, context)
        prompt_path.write_text(RESUMED + prompt if resume else prompt)
        argv = build_argv(executable, job.agent, job.prompt, resume=resume)
        with open(prompt_path, "rb") as stdin:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=2,
                    cwd=cwd,
                    env=child_env(job, cwd),
                    start_new_session=True,
                )
            except OSError as exc:
                raise RunnerError(f"cannot start {executable}: {exc}", fix=INSTALL_FIX) from exc
        ctx.register_process(proc)
        session = Session(job, ctx, cwd)
        assert proc.stdout is not None
        with proc.stdout:
            session.read(proc.stdout)
        code = proc.wait()
        stop_leftovers(job.attempt_dir)
        runnerfiles.write_claude_session(job.attempt_dir, session_record(session))
        return outcome_of(job, session, code)


RUNNER = ClaudeCodeRunner()
