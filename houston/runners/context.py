"""What an attempt knows of its mission: the results of its needs and the mission context.

Every runner (command, python, llm, and runners added later) gets the same view through
these functions, all plain and thread-safe (they only read files):

* `needs_results(job)`: {need id: its accepted result} for the task's direct needs.
* `mission_context(job)`: the mission's `context` text (context.md).
* `resolved_inputs(job)`: the inputs with `{{ tasks.<id>.result[.<key>...] }}` filled from
  the accepted results on disk (any task it needs, directly or transitively: checked at
  submit); a missing result or key is a RunnerError that fails the attempt.
* `envelope(job, inputs)`: the JSON a process-based agent reads on stdin,
  `{"inputs": ..., "needs": {...}, "context": ...}`.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from houston.core.errors import RunnerError
from houston.home import layout, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.runners import Job


def read_result(mission_dir: str | Path, task_id: str) -> Any:
    """The accepted result of `task_id`, or None when it has none (yet)."""
    path = Path(taskfiles.result_path(mission_dir, task_id))
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise RunnerError(
            f"the result of task {task_id!r} is not JSON: {exc}", where=str(path)
        ) from None


def needs_results(job: Job) -> dict[str, Any]:
    return {need: read_result(job.mission_dir, need) for need in job.needs}


def mission_context(job: Job) -> str:
    try:
        return layout.context_file(Path(job.mission_dir)).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def resolved_inputs(job: Job) -> dict[str, Any]:
    # Here, not at the top: most attempts have no inputs, and a worker starts faster.
    from houston.core.templating import TemplateError, referenced_tasks, resolve_results

    wanted = referenced_tasks(job.inputs)
    if not wanted:
        return job.inputs
    results = {}
    for task_id in wanted:
        value = read_result(job.mission_dir, task_id)
        if value is not None:
            results[task_id] = value
    try:
        filled = resolve_results(job.inputs, results)
    except TemplateError as exc:
        raise RunnerError(
            f"task {job.task_id!r}: {exc}",
            fix="check the placeholder against the result of that task (houston show)",
        ) from None
    inputs: dict[str, Any] = filled
    return inputs


def envelope(job: Job, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": inputs, "needs": needs_results(job), "context": mission_context(job)}


class JobContext:
    """What every `AgentContext` shares: the job's fields, its paths made when an agent
    first asks for them (most attempts never do), and the results of its needs."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.inputs = job.inputs
        self.prompt = job.prompt
        self.mission_id = job.mission_id
        self.task_id = job.task_id
        self.attempt = job.attempt
        self.tokens = 0
        self.cost = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self.model: str | None = None

    def count_usage(
        self,
        tokens: int | None,
        cost: float,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> tuple[int, float]:
        """Add one usage report (deltas) to the attempt's totals; the (tokens, cost) delta
        the engine's budgets are told. Without `tokens`, the input and output tokens
        count as its tokens."""
        tokens = int(input_tokens) + int(output_tokens) if tokens is None else int(tokens)
        self.tokens += tokens
        self.cost = round(self.cost + float(cost), 10)
        self.input_tokens += int(input_tokens)
        self.output_tokens += int(output_tokens)
        if model:
            self.model = str(model)
        return tokens, float(cost)

    def report_usage(
        self,
        tokens: int | None = None,
        cost: float = 0.0,
        *,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        """One usage report (deltas) from an agent: counted into the attempt's totals, then
        told to whoever keeps the budgets."""
        self.tell_usage(*self.count_usage(tokens, cost, model, input_tokens, output_tokens))

    def tell_usage(self, tokens: int, cost: float) -> None:
        """Pass a counted (tokens, cost) delta on to whoever keeps the budgets: the engine
        (a worker's context) or a Ray driver (a node's). A bare context keeps its totals."""

    def usage_record(self) -> UsageRecord:
        """The attempt's usage.json: tokens and cost, and the model and the input/output
        split when the agent said them (`houston costs --by model` reads them)."""
        return UsageRecord.of(
            self.tokens, self.cost, self.model, self.input_tokens, self.output_tokens
        )

    @cached_property
    def work_dir(self) -> Path:
        return Path(self.job.attempt_dir)

    @cached_property
    def mission_dir(self) -> Path:
        return Path(self.job.mission_dir)

    @cached_property
    def outputs_dir(self) -> Path:
        return layout.outputs_dir(self.mission_dir)

    @cached_property
    def package_dir(self) -> Path:
        return Path(self.job.package_dir)

    @cached_property
    def needs(self) -> dict[str, Any]:
        return needs_results(self.job)

    @cached_property
    def mission_context(self) -> str:
        return mission_context(self.job)
