"""How the server asks for changes: through `houston.actions`, never by writing files.

`houston.actions` (submit/approve/reject/cancel from the store, retry from the engine)
is the one place that changes missions for the CLI and the server alike. While a verb is
not there yet, the bridge below asks the store for the same lifecycle move, so the
dashboard stays usable; each bridge goes away as soon as the action exists.
"""

from __future__ import annotations

import importlib
from typing import Any

from houston.errors import ConflictError, HoustonError
from houston.lifecycle import MissionState, Reason
from houston.store import MissionStore

VERBS = ("approve", "reject", "cancel", "retry")


def _action(name: str) -> Any:
    try:
        module = importlib.import_module("houston.actions")
    except ImportError:
        return None
    return getattr(module, name, None)


def act(store: MissionStore, verb: str, mission_id: str) -> dict[str, Any]:
    """Apply one verb to a mission (id or unique prefix); return what the action said."""
    ref = store.resolve(mission_id)
    action = _action(verb)
    if action is not None:
        kwargs = {} if verb == "retry" else {"by": "http"}
        return _describe(action(store, ref.id, **kwargs), ref.id)
    return _bridge(store, verb, ref.id, ref.state)


def submit(store: MissionStore, body: bytes, source: str, approve: bool) -> dict[str, Any]:
    action = _action("submit")
    if action is not None:
        return _describe(action(store, body, source, approve=approve, by="http"), None)
    from houston.mission import load_mission

    spec = load_mission(body, source)
    ref = store.create(body, spec.name)
    if spec.gate == "none" or approve:
        reason = Reason.GATE_APPROVED if approve else Reason.USER_REQUEST
        ref = store.move(ref.id, MissionState.PLANNING, MissionState.COMMITTED, reason)
    return {"id": ref.id, "state": ref.state.value}


def _bridge(store: MissionStore, verb: str, mission_id: str, state: MissionState) -> dict[str, Any]:
    moves: dict[tuple[str, MissionState], tuple[MissionState, Reason]] = {
        ("approve", MissionState.PLANNING): (MissionState.COMMITTED, Reason.GATE_APPROVED),
        ("reject", MissionState.PLANNING): (MissionState.COMPLETED, Reason.USER_REQUEST),
        ("cancel", MissionState.PLANNING): (MissionState.COMPLETED, Reason.CANCELLED),
        ("cancel", MissionState.COMMITTED): (MissionState.COMPLETED, Reason.CANCELLED),
    }
    move = moves.get((verb, state))
    if move is None:
        raise ConflictError(
            f"cannot {verb} mission {mission_id} while it is {state}",
            fix=f"use `houston {verb} {mission_id}` once the engine supports it",
        )
    ref = store.move(mission_id, state, move[0], move[1])
    return {"id": ref.id, "state": ref.state.value}


def _describe(result: Any, mission_id: str | None) -> dict[str, Any]:
    """Actions may return a ref, a result holding one, or a dict: answer JSON either way."""
    if isinstance(result, dict):
        return result
    requested = getattr(result, "requested", None)
    result = getattr(result, "ref", result)
    ref_id = getattr(result, "id", mission_id)
    state = getattr(result, "state", None)
    answer = {"id": ref_id, "state": str(state) if state is not None else None}
    if requested is not None:
        answer["requested"] = requested  # a running mission: the engine will stop it
    return answer


__all__ = ["VERBS", "HoustonError", "act", "submit"]
