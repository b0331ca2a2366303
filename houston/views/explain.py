"""Why a mission ended, in words: pure functions over its status, transitions and tasks.

Used by the dashboard (`GET /api/missions/{id}` answers `end`) so that a person reads
"Budget exceeded: tokens 5,210 of 5,000" rather than a reason code.
"""

from __future__ import annotations

from typing import Any

from houston.core.taskstate import TaskState
from houston.home.layout import CANCEL_REQUEST

ACTORS = {
    "cli": "from the command line",
    "http": "from the dashboard",
    "engine stop": "by the engine stopping",
    CANCEL_REQUEST: "by a cancel request",
}
BUDGET_KEYS = {"tokens": "max_tokens", "cost": "max_cost", "wall_time": "max_wall_time"}


def figure(kind: str, value: float) -> str:
    if kind == "cost":
        return f"${value:,.4f}"
    if kind == "wall_time":
        return f"{value:,.1f} s"
    return f"{round(value):,}"


def actor(by: Any) -> str:
    text = str(by or "")
    return ACTORS.get(text, f"by {text}" if text else "by someone")


def last_move(transitions: list[dict[str, Any]]) -> dict[str, Any]:
    return next((t for t in reversed(transitions) if t.get("to") == "COMPLETED"), {})


def recorded_budget_text(stop: dict[str, Any]) -> str:
    """The figure the engine recorded: `Budget exceeded: tokens 6,200 of 5,000 (task a)`."""
    kind = str(stop["kind"])
    text = (
        f"Budget exceeded: {kind.replace('_', ' ')} "
        f"{figure(kind, float(stop.get('spent') or 0.0))} of "
        f"{figure(kind, float(stop['limit']))}"
    )
    scope = str(stop.get("scope") or "mission")
    if scope.startswith("task:"):
        text += f" (the budget of task {scope[5:]})"
    elif stop.get("needed") is not None and stop.get("task"):
        text += (
            f" (no room left to start task {stop['task']}, which reserves "
            f"{figure(kind, float(stop['needed']))})"
        )
    return text


def budget_text(detail: dict[str, Any], budget: dict[str, Any], usage: dict[str, Any]) -> str:
    """The limit that was hit with the figure spent: as the engine recorded it, else (an
    older record) worked out from the mission's budget and usage."""
    if detail.get("kind") in BUDGET_KEYS and detail.get("limit") is not None:
        return recorded_budget_text(detail)
    kinds = (
        [detail["kind"]]
        if detail.get("kind") in BUDGET_KEYS
        else [k for k in ("tokens", "cost") if budget.get(BUDGET_KEYS[k]) is not None]
    )
    parts = []
    for kind in kinds:
        limit = budget.get(BUDGET_KEYS[kind])
        spent = float(detail.get("spent") or usage.get(kind) or 0.0)
        if limit is not None:
            parts.append(
                f"{kind.replace('_', ' ')} {figure(kind, spent)} of {figure(kind, float(limit))}"
            )
    text = "Budget exceeded" + (f": {', '.join(parts)}" if parts else "")
    if detail.get("task") and not detail.get("kind"):
        text += f" (no room left to start task {detail['task']})"
    return text


def end_reason(
    status: dict[str, Any],
    transitions: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    budget: dict[str, Any] | None,
    cancel_by: str | None = None,
) -> dict[str, Any] | None:
    """`{"reason", "text", "at"}` for a completed mission; None before it ends."""
    if status.get("state") != "COMPLETED":
        return None
    move = last_move(transitions)
    reason = str(move.get("reason") or status.get("reason") or "")
    raw = move.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    failed = [t for t in tasks if t.get("state") == TaskState.FAILED]
    text = _words(reason, detail, failed, budget or {}, status, cancel_by)
    return {"reason": reason, "text": text, "at": move.get("ts") or status.get("finished")}


def _words(
    reason: str,
    detail: dict[str, Any],
    failed: list[dict[str, Any]],
    budget: dict[str, Any],
    status: dict[str, Any],
    cancel_by: str | None,
) -> str:
    raw = status.get("usage")
    usage: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if reason == "budget_exceeded":
        stop = status.get("budget_stop")
        return budget_text(stop if isinstance(stop, dict) else detail, budget, usage)
    if reason == "cancelled":
        by = cancel_by if detail.get("by") == CANCEL_REQUEST and cancel_by else detail.get("by")
        return f"Cancelled {actor(by)}"
    if detail.get("action") == "reject":
        return f"Rejected {actor(detail.get('by'))}"
    if reason == "task_failed":
        return _failed_text(detail, failed)
    if reason == "all_tasks_done":
        if failed:
            return _failed_text(detail, failed)
        return "All tasks succeeded"
    if reason == "invalid":
        return f"Invalid mission: {detail.get('error') or 'see its transitions'}"
    if reason == "timeout":
        return "Timed out"
    return reason.replace("_", " ").capitalize() or "Completed"


def _failed_text(detail: dict[str, Any], failed: list[dict[str, Any]]) -> str:
    if detail.get("task"):
        error = detail.get("error") or next(
            (t.get("error") for t in failed if t.get("id") == detail["task"]), None
        )
        return f"Task {detail['task']} failed" + (f": {error}" if error else "")
    if len(failed) == 1:
        error = failed[0].get("error")
        return f"Task {failed[0]['id']} failed" + (f": {error}" if error else "")
    if failed:
        return f"{len(failed)} tasks failed: " + ", ".join(str(t["id"]) for t in failed)
    return str(detail.get("error") or "Failed")
