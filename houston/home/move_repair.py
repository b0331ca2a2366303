"""The recovery sweep's repair of mission moves a killed mover left half-recorded.

`repair_moves` finishes each move whose intent (houston.home.moves) is still there;
`repair_statuses` gives every mission whose status.json names another state than its
folder a `recovered` transition to the folder's state (the folder is the truth).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from houston.clock import utcnow
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio, moves
from houston.home.layout import status_file
from houston.home.store import MissionStore
from houston.home.trail import parse_entry, transition_entry


def repair_moves(store: MissionStore) -> list[dict[str, Any]]:
    """Finish every move whose mover died between its rename and its record.

    Under the stripe lock an intent still present is one its mover will never remove
    (a mover removes it before letting go of the lock), so no liveness check is needed.
    """
    try:
        names = sorted(os.listdir(moves.intent_dir(store.home)))
    except FileNotFoundError:
        return []
    repaired = []
    for name in names:
        mission_id = name.removesuffix(".json")
        if name.startswith(".") or mission_id == name:
            continue
        with store.stripe_lock(mission_id):
            done = _finish_move(store, mission_id, moves.intent_dir(store.home) / name)
        if done is not None:
            repaired.append(done)
    return repaired


def _finish_move(store: MissionStore, mission_id: str, intent: Path) -> dict[str, Any] | None:
    try:
        entry = parse_entry(fsio.read_json(intent))
    except FileNotFoundError:
        return None  # its mover finished meanwhile
    except ValueError:
        entry = None  # torn write: the mover died before renaming anything
    current = store.locate_or_none(mission_id)
    done = None
    if entry is not None and current is not None and current.state.value == entry["to"]:
        store.record(current.path, entry, utcnow())
        done = {
            "action": "finished_move",
            "mission": mission_id,
            "from": entry["from"],
            "to": entry["to"],
        }
    moves.forget(intent)
    return done


def repair_statuses(store: MissionStore) -> list[dict[str, Any]]:
    """Every mission whose status.json names another state than the folder it is in gets
    a `recovered` transition to the folder's state (the folder is the truth)."""
    repaired = []
    for state in MissionState:
        for mission_id in store.ids_in(state):
            if _status_state(store.home.mission_dir(state, mission_id)) in (None, state.value):
                continue
            with store.stripe_lock(mission_id):
                done = _repair_status(store, mission_id)
            if done is not None:
                repaired.append(done)
    return repaired


def _status_state(folder: Path) -> str | None:
    """The state status.json names; None when it has none (a mission dropped by hand)."""
    try:
        status = fsio.read_json(status_file(folder))
    except (OSError, ValueError):
        return None
    found = status.get("state") if isinstance(status, dict) else None
    return str(found) if found in {s.value for s in MissionState} else None


def _repair_status(store: MissionStore, mission_id: str) -> dict[str, Any] | None:
    current = store.locate_or_none(mission_id)
    if current is None:
        return None
    said = _status_state(current.path)
    if said in (None, current.state.value):
        return None  # its mover finished while we waited for the lock
    now = utcnow()
    entry = transition_entry(
        MissionState(said),
        current.state,
        Reason.RECOVERED,
        None,
        now,
        {"repair": "status.json named another state"},
    )
    store.record(current.path, entry, now)
    return {
        "action": "repaired_status",
        "mission": mission_id,
        "from": said,
        "to": current.state.value,
    }
