"""Runners: how one attempt executes one agent, inside a warm worker process.

This module is the runner interface; every runner module follows it:

* A runner is a module `houston.runners.<name>` that defines `RUNNER`, an object with
  `name: str` and `run(job: Job, ctx: AgentContext) -> Outcome`. `get_runner(name)`
  imports it lazily (`claude-code` lives in `claude_code.py`). Built in: `command`,
  `python`; `llm` lives in `houston/runners/llm.py`; `claude-code` runs Claude Code.
* `Job` is plain JSON-able data the engine sends to a worker: ids, the parsed agent front
  matter (`agent`), the prompt (the agent file's body), the package folder, the inputs,
  the mission and attempt folders, the timeout, the task's budget limits and its `needs`.
  `houston.runners.context` reads needs' results and the mission context and fills
  `{{ tasks.<id>.result }}` placeholders; the worker does that before `run`.
* `AgentContext` is what a runner (and a `python` agent function) may use: `inputs`,
  `prompt`, `mission_id`, `task_id`, `attempt`, `work_dir` (the attempt folder),
  `mission_dir`, `outputs_dir`, `package_dir`, `blackboard`, `needs` (the accepted results
  of the tasks it needs, by id), `mission_context` (the mission's `context`),
  `report_usage(tokens, cost, *, model, input_tokens, output_tokens)` (deltas added up;
  the engine checks budgets on every report and may stop the attempt; the model and the
  input/output split go into the attempt's usage.json for `houston costs --by model`),
  `emit(type, data)` (an event of this attempt, e.g. `tool.call`), and
  `register_process(popen)` (a runner that starts a child process must call it at once so
  the engine can stop the child's process group and never leave it orphaned).
* `run` returns an `Outcome` (ok, result dict, error text, exit code, signal). It raises
  `houston.core.errors.RunnerError` for a setup problem (missing executable, entrypoint or
  endpoint): the attempt fails with that message instead of hanging. Any other exception
  fails the attempt with its traceback in stderr.log.
* While `run` executes, file descriptors 1 and 2 point at the attempt's stdout.log and
  stderr.log, so `print` from an agent lands in its log. llm attempts run many at once in
  one network worker (houston.engine.io_worker): there `sys.stdout`/`sys.stderr` and
  `write_output(bytes)` are routed per thread; runners write live output through
  `write_output`, never to fd 1 directly. The worker writes result.json, usage.json and
  exit.json from the Outcome; runners never write them.
* Timeouts, cancellation and budget stops are enforced by the engine from outside (it
  stops the registered process group, or the whole worker for in-process agents), so a
  runner needs no timer of its own; it may still honour `job.timeout` for its own I/O.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from houston.core.errors import RunnerError

if TYPE_CHECKING:
    import subprocess

    from houston.home.blackboard import Blackboard

RUNNER_NAMES = ("command", "python", "llm", "claude-code")


# The part of a job that belongs to its agent: a worker is sent it with the first job of
# each agent and keeps it; later jobs of that agent leave it out (see houston.engine.protocol).
AGENT_KEYS = ("agent", "prompt", "package_dir")


@dataclass
class Job:
    """One attempt of one task, as sent to a worker (JSON-able)."""

    mission_id: str
    task_id: str
    attempt: int
    agent_ref: str
    agent: dict[str, Any]
    prompt: str
    package_dir: str
    inputs: dict[str, Any]
    mission_dir: str
    attempt_dir: str
    timeout: float | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)  # the task's direct needs (ids)

    @property
    def runner(self) -> str:
        return str(self.agent.get("runner") or "llm")

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: every value is already plain JSON data (asdict deep-copies).
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)


@dataclass
class Outcome:
    """What one attempt produced."""

    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    exit_code: int | None = None
    signal: int | None = None


class AgentContext(Protocol):
    """What runners and python agents may use (implemented by the worker)."""

    job: Job
    inputs: dict[str, Any]
    prompt: str
    mission_id: str
    task_id: str
    attempt: int

    @property
    def work_dir(self) -> Path: ...

    @property
    def mission_dir(self) -> Path: ...

    @property
    def outputs_dir(self) -> Path: ...

    @property
    def package_dir(self) -> Path: ...

    @property
    def blackboard(self) -> Blackboard: ...

    @property
    def needs(self) -> dict[str, Any]: ...

    @property
    def mission_context(self) -> str: ...

    def report_usage(
        self,
        tokens: int | None = None,
        cost: float = 0.0,
        *,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None: ...

    def emit(self, type_: str, data: dict[str, Any]) -> None: ...

    def register_process(self, proc: subprocess.Popen[bytes]) -> None: ...


class Runner(Protocol):
    name: str

    def run(self, job: Job, ctx: AgentContext) -> Outcome: ...


_ROUTE: list[Callable[[bytes], None]] = []


def route_output(writer: Callable[[bytes], None]) -> None:
    """Send `write_output` to `writer` (the network worker routes it per thread)."""
    _ROUTE[:] = [writer]


def write_output(data: bytes) -> None:
    """Live output of the running attempt (streamed tokens, tool output): its stdout.log.

    Runners write through this rather than to fd 1, because the network worker runs many
    attempts at once in one process and gives each its own log."""
    if _ROUTE:
        _ROUTE[0](data)
        return
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def get_runner(name: str) -> Runner:
    """The runner called `name`, imported on first use."""
    if name not in RUNNER_NAMES:
        raise RunnerError(f"unknown runner {name!r}", fix=f"use one of: {', '.join(RUNNER_NAMES)}")
    try:
        module = importlib.import_module(f"houston.runners.{name.replace('-', '_')}")
    except ImportError as exc:
        raise RunnerError(
            f"the {name} runner is not available: {exc}",
            fix="install the package that provides it, or choose another runner",
        ) from exc
    runner: Runner = module.RUNNER
    return runner
