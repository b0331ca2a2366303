"""How the server asks for changes: through `houston.actions`, never by writing files.

`houston.actions` (submit/approve/reject/cancel from the store, retry from the engine) is
the one place that changes missions, for the command line and the server alike.
"""

from __future__ import annotations

from typing import Any

from houston import actions
from houston.home.store import MissionStore

VERBS = ("approve", "reject", "cancel", "retry")
TASK_VERBS = ("approve", "reject")  # on a task waiting at its gate
ACTOR = "http"  # recorded as `by` in the mission's transitions


def act(store: MissionStore, verb: str, mission_id: str) -> dict[str, Any]:
    """Apply one verb to a mission (id or unique prefix); answer what it did."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    result = getattr(actions, verb)(store, mission_id, by=ACTOR)
    return describe(result)


def decide_task(store: MissionStore, verb: str, mission_id: str, task: str) -> dict[str, Any]:
    """Approve or reject a task waiting at its gate (verb: approve | reject)."""
    if verb not in TASK_VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    decision = "approved" if verb == "approve" else "rejected"
    ref = actions.decide_task(store, mission_id, task, decision, by=ACTOR)
    return {**describe(ref), "task": task, "gate": decision}


def submit(store: MissionStore, body: bytes, source: str, approve: bool) -> dict[str, Any]:
    return describe(actions.submit(store, body, source, approve=approve, by=ACTOR))


def describe(result: Any) -> dict[str, Any]:
    """A MissionRef, or a result holding one (cancel), as JSON."""
    requested = getattr(result, "requested", None)
    ref = getattr(result, "ref", result)
    answer: dict[str, Any] = {"id": ref.id, "state": ref.state.value}
    if requested is not None:
        answer["requested"] = requested  # a running mission: the engine will stop it
    return answer
