"""One mission's tasks in the engine's memory, rebuilt from the mission folder on claim.

The folder is the truth: spec.json of every task (mission tasks plus those an initializer
added), result.json (succeeded, never runs again), attempts/<n>/ (attempt numbers are
never reused), state.json (written when a task fails, is requeued or skipped: the failure
and crash counters and the error). Loading is idempotent, so a mission taken over after a crash
is simply loaded again; tasks added by an initializer whose result was accepted but not yet
applied are materialized here.
"""

from __future__ import annotations

import heapq
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from pydantic import ValidationError

from houston.core import dag
from houston.core.budget import Limits, Usage, capped, ceiling_from
from houston.core.lifecycle import Reason
from houston.core.taskstate import (
    BAD_STATES,
    OPEN_STATES,
    ExitReason,
    TaskState,
    state_from_records,
)
from houston.core.templating import check_result_ref, result_refs
from houston.home import attemptfiles, taskfiles
from houston.home.layout import spec_file
from houston.home.records import ProcessRecord, SpecRecord
from houston.home.store import MissionRef
from houston.mission import MissionSpec, TaskSpec, load_mission


@dataclass
class Running:
    """The live attempt of a task."""

    number: int
    slot: int
    path: str  # the attempt folder (a str: made for every attempt, read on rare paths)
    nonce: str
    started_wall: float
    started_mono: float
    deadline: float | None = None
    deadline_reason: str = ExitReason.TIMEOUT
    usage: Usage = field(default_factory=Usage)
    agent: ProcessRecord | None = None  # agent.json, once read
    stop_reason: str | None = None
    stop_error: str | None = None  # what the attempt's error says when the stop ends it
    budget_figure: dict[str, Any] | None = None  # a budget stop's limit and spend (detail)
    kill_at: float | None = None
    procs: dict[int, psutil.Process] = field(default_factory=dict)
    log_offsets: dict[str, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0})
    windows: tuple[tuple[float, str], ...] = ()  # (seconds, reason): timeout, wall budget
    queued: bool = False  # sent to a worker still busy with the job before it

    @property
    def folder(self) -> Path:
        return Path(self.path)

    def arm(self, now_mono: float, now_wall: float) -> None:
        """The attempt starts now: its deadline is the nearest of its time windows."""
        self.started_mono, self.started_wall = now_mono, now_wall
        self.queued, self.deadline = False, None
        for seconds, why in self.windows:
            if self.deadline is None or now_mono + seconds < self.deadline:
                self.deadline, self.deadline_reason = now_mono + seconds, why


@dataclass
class TaskRun:
    id: str
    spec: SpecRecord
    state: TaskState = TaskState.PENDING
    attempt: int = 0
    failures: int = 0
    crashes: int = 0
    not_before: float = 0.0
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    running: Running | None = None
    retries: int = 0  # resolved at dispatch: the task's, else its agent's
    claim_failures: int = 0  # in memory: a claim refused is no crash, but is bounded too
    runner: str = ""
    gate_passed: bool = False  # its human gate (if any) was approved
    # What its attempts may spend: the task's own budget, else its agent file's (set at
    # dispatch). Only a task's own budget is reserved from the mission's.
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self.limits = Limits.from_dict(self.spec.budget)

    @property
    def gated(self) -> bool:
        return self.spec.gate == "approve" and not self.gate_passed

    @property
    def initializer(self) -> bool:
        return self.spec.initializer

    @property
    def node(self) -> dag.Node:
        return dag.Node(self.id, self.spec.needs, self.initializer)


def task_spec_record(task: TaskSpec, *, initializer: bool, added_by: str | None) -> SpecRecord:
    data = task.model_dump(mode="json")
    return SpecRecord(
        task.id,
        task.agent,
        data["inputs"],
        tuple(data["needs"]),
        task.retries,
        task.timeout,
        data["budget"],
        initializer,
        added_by,
        task.gate,
        task.workspace or None,
        task.crash_cap,
    )


class MissionRun:
    def __init__(self, ref: MissionRef, spec: MissionSpec, started_wall: float) -> None:
        self.ref = ref
        self.spec = spec
        self.tasks: dict[str, TaskRun] = {}
        own = Limits.from_dict(spec.budget.model_dump() if spec.budget else None)
        self.limits = capped(own, ceiling_from(os.environ))  # a tenant's ceilings
        self.started_wall = started_wall
        self.started_mono = time.monotonic() - max(0.0, time.time() - started_wall)
        self.closing: tuple[Reason, dict[str, Any]] | None = None
        self.warned: set[tuple[str, str]] = set()
        self.dirty = True
        self.cancel_seen = False
        # Incremental index so that each engine tick costs O(changes), not O(tasks).
        self.blocked: dict[str, int] = {}  # task -> needs not yet succeeded
        self.dependents: dict[str, list[str]] = {}
        self.heap: list[tuple[bool, str]] = []  # ready candidates: initializers first, by id
        self.queued: set[str] = set()
        self.running_ids: set[str] = set()
        self.count: Counter[str] = Counter()
        self.done_usage = Usage()
        self.bad = False  # some task failed, was cancelled or skipped: look for doomed ones
        self.next_requeue: float | None = None  # when a task requeued after a backoff may start

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def folder(self) -> Path:
        return self.ref.path

    @property
    def fail_fast(self) -> bool:
        return self.spec.on_failure == "fail_fast"

    def states(self) -> dict[str, TaskState]:
        return {t.id: t.state for t in self.tasks.values()}

    def nodes(self) -> list[dag.Node]:
        return [t.node for t in self.tasks.values()]

    def usage(self) -> Usage:
        total = self.done_usage
        for task_id in self.running_ids:
            running = self.tasks[task_id].running
            if running is not None:
                total = total + running.usage
        return total

    def reserved(self) -> Usage:
        total = Usage()
        for task_id in self.running_ids:
            task = self.tasks[task_id]
            if task.running is not None:
                limits = Limits.from_dict(task.spec.budget)
                total = total + Usage(
                    max(0, (limits.max_tokens or 0) - task.running.usage.tokens),
                    max(0.0, (limits.max_cost or 0.0) - task.running.usage.cost),
                )
        return total

    def running_count(self) -> int:
        return len(self.running_ids)

    def running_tasks(self) -> list[TaskRun]:
        return [self.tasks[t] for t in sorted(self.running_ids)]

    def all_final(self) -> bool:
        return not any(self.count[state] for state in OPEN_STATES)

    def counts(self) -> dict[str, int]:
        found = {"total": len(self.tasks)}
        for state in TaskState:
            found[state.value] = self.count[state]
        return found

    # -- the index ------------------------------------------------------------------

    def reindex(self) -> None:
        nodes, states = self.nodes(), self.states()
        needs = dag.effective_needs(nodes)
        self.dependents = dag.dependents(needs)
        self.blocked = dag.unmet(needs, states)
        self.count = Counter(states.values())
        self.heap, self.queued = [], set()
        for task_id in dag.ready(nodes, states):
            self.enqueue(self.tasks[task_id])
        self.bad = any(t.state in BAD_STATES for t in self.tasks.values())
        self.done_usage = Usage()
        for task in self.tasks.values():
            self.done_usage = self.done_usage + task.usage
        self.running_ids = {t.id for t in self.tasks.values() if t.running is not None}

    def enqueue(self, task: TaskRun) -> None:
        if task.id not in self.queued:
            self.queued.add(task.id)
            heapq.heappush(self.heap, (not task.initializer, task.id))  # dag.ready_order

    def set_state(self, task: TaskRun, state: TaskState) -> None:
        old = task.state
        if old == state:
            return
        task.state = state
        self.count[old] -= 1
        self.count[state] += 1
        self.dirty = True
        if state == TaskState.SUCCEEDED:
            for dep in dag.release(task.id, self.dependents, self.blocked):
                if self.tasks[dep].state == TaskState.PENDING:
                    self.enqueue(self.tasks[dep])
        elif state == TaskState.PENDING and self.blocked.get(task.id, 0) == 0:
            self.enqueue(task)
        elif state in BAD_STATES:
            self.bad = True

    def begin(self, task: TaskRun, run: Running) -> None:
        task.running = run
        self.running_ids.add(task.id)
        self.set_state(task, TaskState.RUNNING)

    def end(self, task: TaskRun, usage: Usage) -> Running:
        run = task.running
        assert run is not None
        task.running = None
        self.running_ids.discard(task.id)
        task.usage = task.usage + usage
        self.done_usage = self.done_usage + usage
        return run

    def wall_time(self, now_mono: float) -> float:
        return max(0.0, now_mono - self.started_mono)

    # -- loading --------------------------------------------------------------------

    @classmethod
    def load(cls, ref: MissionRef, started_wall: float | None = None) -> MissionRun:
        text = spec_file(ref.path).read_bytes()
        spec = load_mission(text, str(spec_file(ref.path)))
        run = cls(ref, spec, started_wall or time.time())
        on_disk = set(taskfiles.task_ids(ref.path))  # a task without a folder has never run
        for record in run.declared():
            run.load_task(record.id, record, fresh=record.id not in on_disk)
        for task_id in on_disk:
            if task_id not in run.tasks:
                run.load_task(task_id)
        for task in list(run.tasks.values()):
            if task.initializer and task.state == TaskState.SUCCEEDED:
                result = taskfiles.read_result(ref.path, task.id) or {}
                run.add_tasks(task.id, result.get("add_tasks") or [])
        run.reindex()
        return run

    def declared(self) -> list[SpecRecord]:
        """The tasks mission.yaml declares. Their spec.json is written by the worker that
        first claims them (in parallel, instead of N writes at claim time); until then
        readers show them from mission.yaml as pending (no state.json = pending)."""
        records = []
        if self.spec.initializer is not None:
            records.append(task_spec_record(self.spec.initializer, initializer=True, added_by=None))
        records += [task_spec_record(t, initializer=False, added_by=None) for t in self.spec.tasks]
        return records

    def _write_new(self, record: SpecRecord) -> None:
        taskfiles.write_spec(self.folder, record)

    def load_task(
        self, task_id: str, spec: SpecRecord | None = None, *, fresh: bool = False
    ) -> TaskRun | None:
        """The task as its files say; `fresh` = it has no folder yet (nothing to read)."""
        spec = spec or taskfiles.read_spec(self.folder, task_id)
        if spec is None:
            return None
        if fresh:
            self.tasks[task_id] = TaskRun(task_id, spec)
            return self.tasks[task_id]
        saved = taskfiles.read_state(self.folder, task_id)
        numbers = taskfiles.attempt_numbers(self.folder, task_id)
        task = TaskRun(task_id, spec)
        if saved is not None:
            task.failures, task.crashes, task.error = saved.failures, saved.crashes, saved.error
        # The state is written on failures only: a crash after a clean claim leaves just
        # the attempt folder, and attempt numbers are never reused.
        task.attempt = max([saved.attempt if saved else 0, *numbers])
        task.usage = self._attempts_usage(task_id, numbers)
        task.state = state_from_records(
            has_result=taskfiles.has_result(self.folder, task_id),
            locked=False,
            saved=saved.state if saved else None,
            resuming=True,
        )
        self.tasks[task_id] = task
        return task

    def _attempts_usage(self, task_id: str, numbers: list[int]) -> Usage:
        total = Usage()
        for number in numbers:
            found = attemptfiles.read_usage(taskfiles.attempt_path(self.folder, task_id, number))
            total = total + (Usage(found.tokens, found.cost) if found else Usage())
        return total

    def add_tasks(self, added_by: str, raw: list[Any]) -> list[str]:
        """Validate and materialize tasks an initializer asked for; their ids (idempotent).

        Raises ValueError naming the problem (bad task, duplicate id, unknown need, cycle).
        """
        if not isinstance(raw, list):
            raise ValueError("add_tasks must be a list of tasks")
        records = []
        for index, item in enumerate(raw):
            try:
                task = TaskSpec.model_validate(item)
            except ValidationError as exc:
                raise ValueError(f"add_tasks[{index}]: {exc}") from exc
            records.append(task_spec_record(task, initializer=False, added_by=added_by))
        new = [r for r in records if r.id not in self.tasks]
        clash = [
            r.id
            for r in new
            if (known := taskfiles.read_spec(self.folder, r.id)) is not None
            and known.added_by != added_by
        ]
        if clash:
            raise ValueError(f"add_tasks reuses existing task ids: {', '.join(clash)}")
        nodes = [*self.nodes(), *(dag.Node(r.id, r.needs) for r in new)]
        if bad := dag.unknown_needs(nodes):
            raise ValueError(f"add_tasks: unknown needs {bad}")
        if cycle := dag.find_cycle(dag.effective_needs(nodes)):
            raise ValueError(f"add_tasks makes a cycle: {' -> '.join(cycle)}")
        check_added_refs(nodes, new)
        for record in new:
            self._write_new(record)
            self.load_task(record.id)
        if new:
            self.reindex()
        return [r.id for r in new]


def check_added_refs(nodes: list[dag.Node], records: list[SpecRecord]) -> None:
    """Added tasks may use results only of tasks they need (initializers count as needed)."""
    needs = {node.id: list(node.needs) for node in nodes}
    firsts = {node.id for node in nodes if node.initializer}
    for record in records:
        allowed = dag.ancestors(record.id, needs) | firsts

        def error(what: str, fix: str) -> Exception:
            return ValueError(f"add_tasks: {what} ({fix})")

        for ref in result_refs(record.inputs):
            check_result_ref(ref.text, ref.task, record.id, allowed, error)
