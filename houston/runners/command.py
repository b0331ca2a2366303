"""The `command` runner: run an argv in its own session, inputs in, JSON result out.

argv: the agent's `command` list (`{package_dir}`, `{mission_dir}`, `{work_dir}` are
replaced), or, for an agent without `command` such as `core/shell`, the inputs `argv`
(a list) or `command` (text for `/bin/sh -c`). The child reads on stdin the JSON
`{"inputs": ..., "needs": {need id: its result}, "context": mission context}` (through a
pipe, or `inputs.json` in the attempt folder when large) and it sees `HOUSTON_*`
variables (HOUSTON_MISSION, _TASK, _ATTEMPT, _MISSION_DIR, _WORK_DIR, _OUTPUTS, _BLACKBOARD,
_PACKAGE_DIR, _RESULT, and _NEEDS: a JSON file of the needs' results, when it has needs)
plus the inputs
`env`; it starts in the inputs `cwd` (default: the attempt's git worktree with `workspace:
worktree`, else the engine's working folder). The result is
the JSON object in `$HOUSTON_RESULT` if the child wrote it (anything else there, invalid
JSON included, fails the attempt: the child meant to report and its report is lost), else
the JSON object printed on stdout (the whole of it, or its last line), else {}. A top-level
`usage` object in the result ({"tokens", "cost"}) is reported. Exit code 0 = success.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from houston.core.errors import RunnerError
from houston.home import attemptfiles, runnerfiles
from houston.home.layout import blackboard_dir, outputs_dir
from houston.runners import AgentContext, Job, Outcome, context

_STDOUT_PARSE_LIMIT = 1 << 20
_PIPE_SAFE = 60_000  # below the 64 KiB Linux pipe buffer


def build_argv(job: Job) -> list[str]:
    command = job.agent.get("command")
    if command:
        values = {
            "package_dir": job.package_dir,
            "mission_dir": job.mission_dir,
            "work_dir": job.attempt_dir,
        }
        argv = [str(part) for part in command]
        for key, value in values.items():
            argv = [part.replace("{" + key + "}", value) for part in argv]
        extra = job.inputs.get("args")
        if isinstance(extra, list):
            argv += [str(a) for a in extra]
        return argv
    if isinstance(job.inputs.get("argv"), list) and job.inputs["argv"]:
        return [str(a) for a in job.inputs["argv"]]
    if isinstance(job.inputs.get("command"), str):
        return ["/bin/sh", "-c", job.inputs["command"]]
    raise RunnerError(
        f"agent {job.agent_ref} has no command to run",
        fix="give the agent a `command:` list, or the task inputs `command`/`argv`",
    )


def build_env(job: Job, result_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    mission_dir = Path(job.mission_dir)
    env.update(
        {
            "HOUSTON_MISSION": job.mission_id,
            "HOUSTON_TASK": job.task_id,
            "HOUSTON_ATTEMPT": str(job.attempt),
            "HOUSTON_MISSION_DIR": job.mission_dir,
            "HOUSTON_WORK_DIR": job.attempt_dir,
            "HOUSTON_OUTPUTS": str(outputs_dir(mission_dir)),
            "HOUSTON_BLACKBOARD": str(blackboard_dir(mission_dir)),
            "HOUSTON_PACKAGE_DIR": job.package_dir,
            "HOUSTON_RESULT": str(result_path),
        }
    )
    env.update(job.env)
    extra = job.inputs.get("env")
    if isinstance(extra, dict):
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


class InvalidResult(ValueError):
    """The child wrote `$HOUSTON_RESULT`, but not a JSON object."""


def parse_result(result_path: Path, stdout_path: Path) -> dict[str, Any]:
    """The attempt's result; raises `InvalidResult` when the result file is not an object."""
    if result_path.is_file():
        return _parse_result_file(result_path.read_text(errors="replace"))
    for text in _candidates(stdout_path):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _parse_result_file(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidResult(
            f"$HOUSTON_RESULT holds invalid JSON ({exc}); "
            "write one JSON object to it, or do not create it"
        ) from exc
    if not isinstance(value, dict):
        raise InvalidResult(
            f"$HOUSTON_RESULT holds a JSON {type(value).__name__}, "
            'not an object; write one JSON object such as {"answer": 42}'
        )
    return value


def _candidates(stdout_path: Path) -> list[str]:
    found: list[str] = []
    try:
        size = stdout_path.stat().st_size
    except FileNotFoundError:
        return found
    with open(stdout_path, "rb") as f:
        f.seek(max(0, size - _STDOUT_PARSE_LIMIT))
        text = f.read().decode(errors="replace").strip()
    if text:
        if size <= _STDOUT_PARSE_LIMIT:
            found.append(text)
        found.append(text.splitlines()[-1])
    return found


class CommandRunner:
    name = "command"

    def run(self, job: Job, ctx: AgentContext) -> Outcome:
        argv = build_argv(job)
        attempt = Path(job.attempt_dir)
        result_path = runnerfiles.agent_result_path(attempt)
        cwd = job.inputs.get("cwd") if isinstance(job.inputs.get("cwd"), str) else None
        cwd = cwd or job.env.get("HOUSTON_WORKTREE")  # `workspace: worktree`: run inside it
        payload = context.envelope(job, job.inputs)
        env = build_env(job, result_path)
        if job.needs:
            needs_path = runnerfiles.needs_path(attempt)
            needs_path.write_text(json.dumps(payload["needs"]))
            env["HOUSTON_NEEDS"] = str(needs_path)
        stdin = _stdin_for(json.dumps(payload).encode(), attempt)
        proc = _start(job, argv, stdin, cwd, env)
        ctx.register_process(proc)
        code = wait_and_end_group(proc)
        if code != 0:
            sig = -code if code < 0 else None
            what = f"killed by signal {sig}" if sig else f"exited with code {code}"
            return Outcome(
                ok=False,
                error=f"{argv[0]} {what}",
                exit_code=code if code >= 0 else None,
                signal=sig,
            )
        try:
            result = parse_result(result_path, Path(attemptfiles.log_path(attempt, "stdout")))
        except InvalidResult as exc:
            return Outcome(ok=False, error=str(exc), exit_code=0)
        usage = result.get("usage")
        if isinstance(usage, dict):
            report_result_usage(ctx, usage)
        return Outcome(ok=True, result=result, exit_code=0)


def _start(
    job: Job, argv: list[str], stdin: int, cwd: str | None, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start the agent in its own session on `stdin` (closed here, started or not)."""
    try:
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=1,
            stderr=2,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise RunnerError(
            f"executable not found: {argv[0]!r}",
            where=f"agent {job.agent_ref}",
            fix="install it or fix the agent's command / the task's inputs",
        ) from exc
    except (PermissionError, NotADirectoryError) as exc:
        raise RunnerError(
            f"cannot start {argv[0]!r}: {exc}", where=f"agent {job.agent_ref}"
        ) from exc
    finally:
        os.close(stdin)


def report_result_usage(ctx: AgentContext, usage: dict[str, Any]) -> None:
    """A command agent's `usage` in its result: `tokens`, `cost`, and optionally `model`,
    `input_tokens`, `output_tokens` (what `houston costs --by model` shows)."""
    model = usage.get("model")
    tokens = _count(usage.get("tokens")) if usage.get("tokens") is not None else None
    ctx.report_usage(
        tokens,
        float(usage.get("cost") or 0.0),
        model=str(model) if model else None,
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
    )


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def wait_and_end_group(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the agent, then SIGKILL what is left of its process group (children it
    put in the background) while its unreaped zombie still holds the group id, so that
    the id cannot have been reused; then reap it. Its exit code."""
    if hasattr(os, "waitid"):
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def _stdin_for(data: bytes, attempt: Path) -> int:
    """A read fd holding `data`: a pipe when it fits in the pipe buffer (never blocks),
    else a file in the attempt folder."""
    if len(data) < _PIPE_SAFE:
        read, write = os.pipe()
        try:
            os.write(write, data)
        finally:
            os.close(write)
        return read
    path = runnerfiles.inputs_path(attempt)
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


RUNNER = CommandRunner()
