"""The verbs a user applies to missions: submit, approve, reject, cancel.

The command line and the HTTP server both call these; neither writes mission files
itself. Each verb looks at the mission's current folder, asks the lifecycle table, and
moves it with one rename through `MissionStore.move`. When another process (an engine,
a second user) moves the mission first, the move raises `ConflictError`; the verb then
looks again and decides against the fresh state, a bounded number of times.

Cancelling an EXECUTING mission does not move it: an engine owns it, so the verb drops
`<mission>/cancel.request` and the engine stops the mission and completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from houston.clock import utcnow
from houston.core.errors import ConflictError, IllegalTransition, UsageError
from houston.core.lifecycle import MissionState, Outcome, Reason
from houston.core.taskstate import TaskState, fresh_counts
from houston.home import taskfiles
from houston.home.cancels import withdraw_cancel_request, write_cancel_request
from houston.home.status import Workspace
from houston.home.store import MissionRef, MissionStore, is_plain_name

RACE_RETRIES = 8

T = TypeVar("T")


@dataclass(frozen=True)
class CancelResult:
    """`requested` is True when the mission was running and only a request was left."""

    ref: MissionRef
    requested: bool


def submit(
    store: MissionStore,
    data: bytes,
    source: str,
    *,
    approve: bool = False,
    by: str = "cli",
    now: datetime | None = None,
) -> MissionRef:
    """Validate `data` (a mission.yaml) and submit it; nothing is written if it is invalid.

    The mission lands in PLANNING, and goes straight on to COMMITTED when it has no gate
    (reason `user_request`) or when `approve` is given for a gated one (`gate_approved`).
    """
    from houston.agents.check import check_agents
    from houston.mission import load_mission  # pydantic is slow to import: only here

    spec = load_mission(data, source)  # raises SpecError before anything touches disk
    check_agents(store.home, spec, data, source)
    workspace = _workspace_record(data, spec.repo, source)  # a bad `repo:` too
    store.home.ensure()
    tasks = len(spec.tasks) + (1 if spec.initializer is not None else 0)
    summary: dict[str, Any] = {"gate": spec.gate, "counts": fresh_counts(tasks)}
    if workspace is not None:
        summary["workspace"] = workspace  # repo + base commit of `workspace: worktree` tasks
    ref = store.create(data, spec.name, context=spec.context, summary=summary, now=now)
    if spec.gate == "none":
        reason = Reason.USER_REQUEST
    elif approve:
        reason = Reason.GATE_APPROVED
    else:
        return ref
    detail = {"by": by}
    try:
        return store.move(
            ref.id, MissionState.PLANNING, MissionState.COMMITTED, reason, detail=detail, now=now
        )
    except ConflictError:
        return store.locate(ref.id)  # someone approved or rejected it in between


def _workspace_record(data: bytes, repo: str | None, source: str) -> Workspace | None:
    from houston.core.errors import HoustonError, SpecError
    from houston.workspaces.workspace import record_at_submit

    try:
        return record_at_submit(data, repo, Path.cwd())
    except HoustonError as exc:
        lines = data.decode("utf-8", "replace").splitlines()
        line = next((n for n, text in enumerate(lines, 1) if text.startswith("repo:")), 0)
        raise SpecError(exc.what, source=source, line=line, fix=exc.fix) from None


def approve(
    store: MissionStore, mission: str, *, by: str = "cli", now: datetime | None = None
) -> MissionRef:
    """PLANNING -> COMMITTED (`gate_approved`). `mission` is an id or a unique prefix."""

    def once(ref: MissionRef) -> MissionRef:
        if ref.state is not MissionState.PLANNING:
            raise _not_waiting(ref, "approve")
        return store.move(
            ref.id,
            MissionState.PLANNING,
            MissionState.COMMITTED,
            Reason.GATE_APPROVED,
            detail={"by": by},
            now=now,
        )

    return _retrying(store, store.resolve(mission), once)


def reject(
    store: MissionStore, mission: str, *, by: str = "cli", now: datetime | None = None
) -> MissionRef:
    """PLANNING -> COMPLETED (`user_request`, outcome cancelled): the plan is turned down."""

    def once(ref: MissionRef) -> MissionRef:
        if ref.state is not MissionState.PLANNING:
            raise _not_waiting(ref, "reject")
        detail = {"by": by, "action": "reject"}
        return store.move(
            ref.id,
            MissionState.PLANNING,
            MissionState.COMPLETED,
            Reason.USER_REQUEST,
            detail=detail,
            now=now,
        )

    return _retrying(store, store.resolve(mission), once)


def cancel(
    store: MissionStore, mission: str, *, by: str = "cli", now: datetime | None = None
) -> CancelResult:
    """Stop a mission that has not finished.

    PLANNING or COMMITTED: moved to COMPLETED (`cancelled`) at once. EXECUTING: a
    `cancel.request` is written for the engine, which completes the mission itself.
    COMPLETED: an error, there is nothing left to cancel.
    """

    def once(ref: MissionRef) -> CancelResult:
        if ref.state in (MissionState.PLANNING, MissionState.COMMITTED):
            moved = store.move(
                ref.id,
                ref.state,
                MissionState.COMPLETED,
                Reason.CANCELLED,
                detail={"by": by},
                now=now,
            )
            return CancelResult(moved, requested=False)
        if ref.state is MissionState.EXECUTING:
            return CancelResult(request_cancel(store, ref, by=by, now=now), requested=True)
        status = store.summary(ref)
        raise IllegalTransition(
            f"mission {ref.id} has already finished ({status.get('outcome') or 'completed'})",
            where=str(ref.path),
            fix="there is nothing to cancel; see `houston show` for how it ended",
        )

    return _retrying(store, store.resolve(mission), once)


def request_cancel(
    store: MissionStore, ref: MissionRef, *, by: str = "cli", now: datetime | None = None
) -> MissionRef:
    """Write `cancel.request` into a mission that is EXECUTING right now.

    Held under the mission's stripe lock, so the mission cannot move while we write; a
    mission no longer EXECUTING raises ConflictError. A request already there is kept.
    """
    with store.stripe_lock(ref.id):
        current = store.locate(ref.id)
        if current.state is not MissionState.EXECUTING:
            raise ConflictError(f"mission {ref.id} is no longer {MissionState.EXECUTING}")
        write_cancel_request(current.path, by, now or utcnow())
    return current


def _retrying(store: MissionStore, ref: MissionRef, once: Callable[[MissionRef], T]) -> T:
    """Run `once` on the mission; when it lost a race, look again and decide afresh."""
    for _ in range(RACE_RETRIES):
        try:
            return once(ref)
        except ConflictError:
            ref = store.locate(ref.id)
    raise ConflictError(
        f"mission {ref.id} kept changing state while we tried to act on it",
        where=str(ref.path),
        fix="look at it with `houston show` and try again",
    )


def _not_waiting(ref: MissionRef, verb: str) -> IllegalTransition:
    return IllegalTransition(
        f"cannot {verb} mission {ref.id}: it is {ref.state}, not waiting in "
        f"{MissionState.PLANNING}",
        where=str(ref.path),
        fix="only missions in PLANNING can be approved or rejected; see `houston show`",
    )


def retry(
    store: MissionStore, mission: str, *, by: str = "cli", now: datetime | None = None
) -> MissionRef:
    """COMPLETED (failed or cancelled) -> COMMITTED: its unfinished tasks run again.

    Tasks with an accepted result keep it and never run again; every other task goes back
    to pending with fresh failure and crash counters, so it runs as a new attempt (attempt
    numbers keep growing, old attempts stay on disk). An engine then claims the mission.
    """

    def once(ref: MissionRef) -> MissionRef:
        _refuse_unless_retryable(store, ref)
        _reset_unfinished_tasks(ref.path)
        withdraw_cancel_request(ref.path)
        detail = {"by": by, "action": "retry"}
        return store.move(
            ref.id,
            MissionState.COMPLETED,
            MissionState.COMMITTED,
            Reason.USER_REQUEST,
            detail=detail,
            now=now,
        )

    return _retrying(store, store.resolve(mission), once)


def _refuse_unless_retryable(store: MissionStore, ref: MissionRef) -> None:
    """Only a mission that completed without success can be retried."""
    status = store.summary(ref)
    if ref.state is not MissionState.COMPLETED or status.get("outcome") == Outcome.SUCCEEDED:
        raise IllegalTransition(
            f"cannot retry mission {ref.id}: it is {ref.state}"
            + (f" ({status.get('outcome')})" if ref.state is MissionState.COMPLETED else ""),
            where=str(ref.path),
            fix="only failed or cancelled missions can be retried; see `houston show`",
        )


def _reset_unfinished_tasks(mission_dir: Path) -> None:
    """Every task without an accepted result goes back to pending."""
    from houston.home import gates

    for task_id in taskfiles.task_ids(mission_dir):
        if taskfiles.read_result(mission_dir, task_id) is None:
            saved = taskfiles.read_state(mission_dir, task_id)
            # The last error stays until a new attempt says otherwise: why it failed.
            taskfiles.write_state(
                mission_dir,
                task_id,
                TaskState.PENDING,
                saved.attempt if saved else 0,
                error=saved.error if saved else None,
            )
            gates.reset(mission_dir, task_id)  # a rejected gate asks the human again


def decide_task(
    store: MissionStore, mission: str, task: str, decision: str, *, by: str = "cli"
) -> MissionRef:
    """Approve or reject one task waiting at its gate inside an EXECUTING mission.

    The decision is written under the mission's stripe lock, and only over a gate that is
    waiting: a task not gated, not yet reached, or already decided is an error that says so.
    The engine running the mission releases the task (approved) or fails it (`rejected`).
    """
    from houston.home import gates

    ref = store.resolve(mission)
    if not is_plain_name(task):
        raise UsageError(f"{task!r} is not a task id", fix=f"see `houston show {ref.id}`")
    with store.stripe_lock(ref.id):
        ref = store.locate(ref.id)
        found = gates.gate_state(ref.path, task)
        if ref.state is not MissionState.EXECUTING or found != gates.WAITING:
            raise IllegalTransition(
                f"task {task} of mission {ref.id} is not waiting for approval"
                + (f" (its gate is {found})" if found else "")
                + ("" if ref.state is MissionState.EXECUTING else f" (the mission is {ref.state})"),
                where=str(taskfiles.task_dir(ref.path, task)),
                fix=f"see `houston show {ref.id}`: only a task shown as waiting can be decided",
            )
        gates.decide(ref.path, task, decision, by)
    return ref
