"""The mission.yaml model: what a user may write, validated strictly.

Pure: `load_mission` takes the file's bytes (or text) and its name and returns a
`MissionSpec`, or raises `SpecError` with file:line:column, what is wrong and what to do.
Reading is strict (`houston.core.yamlstrict`); the models refuse unknown keys and wrong types;
`check_mission` then checks what spans fields: unique task ids, `needs` that name tasks,
no cycles, at least one task, one requirement per package.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from houston.core import dag
from houston.core.templating import check_result_ref, result_refs
from houston.core.yamlstrict import Document, Problem, load, shorten, validate
from houston.core.yamlstrict_messages import closest_key
from houston.pkg.params import Parameter

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
AGENT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}/[a-z0-9][a-z0-9_.-]{0,63}$"
PACKAGE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DURATION_PATTERN = r"^\s*([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+(\.[0-9]+)?s)?\s*$"
MAX_DURATION = 31 * 24 * 3600.0  # longer is a typo (hours for seconds), not a plan

# [0-9], not \d: Python's \d matches every Unicode digit (Arabic-Indic, fullwidth), and
# int() reads them all.
_DURATION = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+(?:\.[0-9]+)?)s)?\Z")
_CLOCK = re.compile(r"^([0-9]+):([0-5]?[0-9])\Z")
_DURATION_FIX = "write seconds as a number, or text like 30s, 5m, 1h30m, 2d"


def parse_duration(value: object) -> float:
    """`90`, `90s`, `5m`, `1h30m`, `2d` -> seconds (greater than zero, at most 31 days)."""
    if isinstance(value, bool):
        raise Problem(f"a duration cannot be {str(value).lower()}", _DURATION_FIX)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (m := _DURATION.match(value.strip())):
        days, hours, minutes, secs = m.groups()
        seconds = (int(days or 0) * 24 + int(hours or 0)) * 3600 + int(minutes or 0) * 60
        seconds += float(secs or 0)
    elif isinstance(value, str) and (m := _CLOCK.match(value.strip())):
        raise Problem(
            f"{shorten(value)} is not a duration (YAML 1.1 would have read it as base 60)",
            f"write {m.group(1)}m{m.group(2)}s, or {int(m.group(1)) * 60 + int(m.group(2))}",
        )
    else:
        raise Problem(f"{shorten(value)} is not a duration", _DURATION_FIX)
    if not math.isfinite(seconds) or seconds <= 0:
        raise Problem("a duration must be greater than zero", _DURATION_FIX)
    if seconds > MAX_DURATION:
        raise Problem(f"{shorten(value)} is longer than 31 days", "check the unit (s, m, h, d)")
    return seconds


def _check_id(value: str) -> str:
    if re.match(ID_PATTERN, value):
        return value
    if re.match(ID_PATTERN, value.lower()):
        raise Problem(f"id {shorten(value)} must be lowercase", f"write {value.lower()!r}")
    raise Problem(
        f"id {shorten(value)} is not safe as a folder name",
        "use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or a digit",
    )


def _check_agent(value: str) -> str:
    if re.match(AGENT_PATTERN, value):
        return value
    if "/" not in value:
        raise Problem(f"agent {shorten(value)} must be written package/agent", "e.g. core/shell")
    if re.match(AGENT_PATTERN, value.lower()):
        raise Problem(f"agent {shorten(value)} must be lowercase", f"write {value.lower()!r}")
    raise Problem(
        f"agent {shorten(value)} is not a package/agent name",
        "write package/agent with lowercase letters, digits, '.', '-' or '_', e.g. core/shell",
    )


def _check_requirement(value: str) -> str:
    from houston.pkg.versions import is_valid_range  # npm's ranges, as npm reads them

    name, at, spec = value.strip().partition("@")
    if not re.match(PACKAGE_PATTERN, name):
        raise Problem(f"{name!r} is not a package name", "use lowercase letters, digits, '.-_'")
    if not at:
        raise Problem(
            f"{shorten(value)} has no version range", f"write {name}@^1.0, or {name}@* for any"
        )
    if not is_valid_range(spec):
        raise Problem(
            f"{spec!r} is not a valid npm semver range", "e.g. ^1.2.0, ~1.2, >=1 <2, 1.x or *"
        )
    return value.strip()


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise Problem("the name must be one line", "move the details to description")
    return value


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION},
        {"type": "string", "pattern": DURATION_PATTERN},
    ]
}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
SafeId = Annotated[
    str, AfterValidator(_check_id), WithJsonSchema({"type": "string", "pattern": ID_PATTERN})
]
AgentRef = Annotated[
    str, AfterValidator(_check_agent), WithJsonSchema({"type": "string", "pattern": AGENT_PATTERN})
]
Requirement = Annotated[
    str,
    AfterValidator(_check_requirement),
    WithJsonSchema({"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]*@.+$"}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Budget(Strict):
    """Hard limits; a task or mission that would pass one is stopped (fail-closed)."""

    max_tokens: int | None = Field(default=None, ge=0, description="Most LLM tokens to spend.")
    max_cost: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Most money to spend (USD)."
    )
    max_wall_time: Duration | None = Field(
        default=None, description="Longest run time: seconds, or text like 30s, 5m, 1h30m."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, le=1024, description="Most tasks running at once."
    )


class TaskSpec(Strict):
    """One unit of work, run by one agent."""

    id: SafeId = Field(description="Lowercase id, unique in the mission; a folder name.")
    agent: AgentRef = Field(description="The agent that runs it: package/agent, e.g. core/shell.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Passed to the agent.")
    needs: list[SafeId] = Field(
        default_factory=list, description="Ids of tasks that must succeed before this one starts."
    )
    retries: int | None = Field(
        default=None, ge=0, le=100, description="Extra attempts after a failure."
    )
    timeout: Duration | None = Field(
        default=None, description="Longest attempt: seconds, or text like 30s, 5m, 1h30m."
    )
    crash_cap: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Most crashes (its agent or worker killed) before the task fails; default 3.",
    )
    budget: Budget | None = Field(default=None, description="Limits of this task.")
    gate: Literal["none", "approve"] = Field(
        default="none",
        description="approve: once its needs are done the task waits for `houston approve ID "
        "TASK` (or reject).",
    )
    workspace: Literal["none", "worktree"] | None = Field(
        default=None, description="worktree: each attempt in its own git worktree and branch."
    )


class InitializerSpec(TaskSpec):
    """The first task of the mission; its result may add tasks (fan-out)."""

    id: SafeId = Field(default="init", description="Lowercase id, unique in the mission.")


class MissionSpec(Strict):
    """A Houston mission file (mission.yaml)."""

    model_config = ConfigDict(title="Houston mission")

    name: Annotated[str, AfterValidator(_single_line)] = Field(
        min_length=1, max_length=200, description="Short name; part of the mission id."
    )
    description: str = Field(default="", description="What the mission is for.")
    gate: Literal["none", "approve"] = Field(
        default="none", description="approve: wait in PLANNING for `houston approve`."
    )
    budget: Budget | None = Field(default=None, description="Limits of the whole mission.")
    context: str = Field(default="", description="Shared context given to every agent.")
    initializer: InitializerSpec | None = Field(
        default=None, description="Runs first and may add tasks."
    )
    tasks: list[TaskSpec] = Field(default_factory=list, description="The tasks (a DAG).")
    on_failure: Literal["fail_fast", "continue"] = Field(
        default="fail_fast", description="fail_fast: stop at the first failed task."
    )
    crash_cap: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Crash cap of every task that sets none (crashes before it fails; default 3).",
    )
    requires: list[Requirement] = Field(
        default_factory=list, description="Packages needed, as name@range (npm semver)."
    )
    parameters: list[Parameter] = Field(
        default_factory=list,
        description="Values taken from `--set name=value` as {{ name }} (see docs/agents.md).",
    )
    repo: str | None = Field(
        default=None,
        min_length=1,
        description="Git repository of `workspace: worktree` tasks (default: where submitted).",
    )


# Keys users often write for ours (other tools' vocabulary).
SYNONYMS = {
    "depends_on": "needs",
    "depends": "needs",
    "dependencies": "needs",
    "after": "needs",
    "input": "inputs",
    "args": "inputs",
    "params": "inputs",
    "with": "inputs",
    "retry": "retries",
    "max_retries": "retries",
    "title": "name",
    "requirements": "requires",
    "packages": "requires",
    "approval": "gate",
    "on_error": "on_failure",
    "init": "initializer",
    "steps": "tasks",
    "jobs": "tasks",
    "tokens": "max_tokens",
    "cost": "max_cost",
    "wall_time": "max_wall_time",
    "concurrency": "max_concurrency",
}


_PARSED: OrderedDict[bytes, MissionSpec] = OrderedDict()  # valid texts seen by this process
_PARSED_KEEP = 8


def load_mission(text: str | bytes, source: str) -> MissionSpec:
    """Parse and check a mission file; SpecError at file:line:column when it is wrong.

    A valid text is checked once per process: `houston run` reads its mission when it
    starts, when it submits it and when its engine claims it. The result depends on the
    text alone, and MissionSpec is frozen, so the same object is handed out again.
    """
    key = text.encode() if isinstance(text, str) else bytes(text)
    if (known := _PARSED.get(key)) is not None:
        return known
    doc = load(text, source)
    spec = validate(MissionSpec, doc, synonyms=SYNONYMS)
    check_mission(spec, doc)
    _PARSED[key] = spec
    if len(_PARSED) > _PARSED_KEEP:
        _PARSED.popitem(last=False)
    return spec


def check_mission(spec: MissionSpec, doc: Document) -> None:
    """The rules that span fields; `doc` gives the positions of the offending nodes."""
    if not spec.tasks and spec.initializer is None:
        path = ("tasks",) if "tasks" in doc.data else ()
        raise doc.error(
            path,
            "the mission has no tasks and no initializer",
            "add a tasks: list with at least one task",
        )
    ids = _unique_ids(spec, doc)
    _check_needs(spec, doc, ids)
    _check_cycles(spec, doc)
    _check_requires(spec, doc)
    _check_result_refs(spec, doc)


def _unique_ids(spec: MissionSpec, doc: Document) -> list[str]:
    seen: dict[str, int] = {}
    if spec.initializer is not None:
        seen[spec.initializer.id] = doc.position(("initializer", "id"))[0]
    for index, task in enumerate(spec.tasks):
        path = ("tasks", index, "id")
        initializer_id_written = "id" in (doc.data.get("initializer") or {})
        if spec.initializer and task.id == spec.initializer.id and not initializer_id_written:
            raise doc.error(
                path,
                f"task id {task.id!r} is the initializer's default id",
                "rename this task, or give the initializer its own id:",
            )
        if task.id in seen:
            raise doc.error(
                path,
                f"task id {task.id!r} is used twice (first on line {seen[task.id]})",
                "give every task its own id",
            )
        seen[task.id] = doc.position(path)[0]
    return list(seen)


def _check_needs(spec: MissionSpec, doc: Document, ids: list[str]) -> None:
    if spec.initializer is not None and spec.initializer.needs:
        raise doc.error(
            ("initializer", "needs"),
            "the initializer cannot have needs",
            "remove them: the initializer always runs first",
            at_key=True,
        )
    for index, task in enumerate(spec.tasks):
        for number, need in enumerate(task.needs):
            path = ("tasks", index, "needs", number)
            if need == task.id:
                raise doc.error(path, f"task {task.id!r} needs itself", "remove it from needs")
            if need in task.needs[:number]:
                raise doc.error(
                    path, f"task {task.id!r} lists {need!r} twice in needs", "list each task once"
                )
            if need not in ids:
                guess = closest_key(need, ids)
                hint = f"did you mean {guess!r}?" if guess else "tasks: " + ", ".join(ids)
                raise doc.error(
                    path,
                    f"task {task.id!r} needs {need!r}, which is not a task of this mission",
                    hint,
                )


def _check_cycles(spec: MissionSpec, doc: Document) -> None:
    needs = {task.id: task.needs for task in spec.tasks}
    index = {task.id: number for number, task in enumerate(spec.tasks)}
    cycle = dag.find_cycle(needs)
    if cycle:
        first, second = cycle[0], cycle[1]
        path = ("tasks", index[first], "needs", needs[first].index(second))
        raise doc.error(
            path,
            "tasks need each other in a cycle: " + " -> ".join(cycle),
            "remove one of these needs so the tasks can run in order",
        )


def _check_requires(spec: MissionSpec, doc: Document) -> None:
    seen: dict[str, int] = {}
    for number, requirement in enumerate(spec.requires):
        name = requirement.partition("@")[0]
        if name in seen:
            raise doc.error(
                ("requires", number),
                f"package {name!r} is required twice",
                f"keep one range for {name} (see entry {seen[name] + 1})",
            )
        seen[name] = number


def _check_result_refs(spec: MissionSpec, doc: Document) -> None:
    """`{{ tasks.<id>.result }}` may only name a task this one needs (maybe through others)."""
    needs = {task.id: task.needs for task in spec.tasks}
    located: list[tuple[tuple[str | int, ...], TaskSpec]] = [
        (("tasks", index), task) for index, task in enumerate(spec.tasks)
    ]
    if spec.initializer is not None:
        located.insert(0, (("initializer",), spec.initializer))
    first = spec.initializer.id if spec.initializer is not None else None
    for where, task in located:
        # The initializer runs before every other task: its result is always there.
        allowed = dag.ancestors(task.id, needs) | ({first} if first and first != task.id else set())
        for ref in result_refs(task.inputs):
            path = (*where, "inputs", *ref.path)

            def error(what: str, fix: str, path: tuple[str | int, ...] = path) -> Exception:
                return doc.error(path, what, fix)

            check_result_ref(ref.text, ref.task, task.id, allowed, error)
