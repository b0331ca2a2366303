"""A mission's `status.json` as a typed record: its fields, a fresh one, the one parser and
the one encoder (docs/formats.md, "status.json").

The record is a TypedDict, so that it is the JSON object itself: what is read is what is
written back, key for key, and fields this version does not know survive a rewrite. Only
`id` and `state` are always there (the store sets them from the folder, the truth); a
mission dropped in by hand, or written by an older version, may lack any other field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NotRequired, TypedDict, cast

from houston.core.lifecycle import BudgetStop, MissionState, Reason
from houston.core.taskstate import fresh_counts
from houston.core.timestamps import iso


class Usage(TypedDict):
    tokens: int
    cost: float  # USD
    wall_time: float  # seconds spent in EXECUTING


class Workspace(TypedDict):
    repo: str
    base: str  # the commit `workspace: worktree` tasks start from


class MissionStatus(TypedDict):
    id: str
    state: str  # a MissionState value
    name: NotRequired[str]
    outcome: NotRequired[str | None]  # an Outcome value in COMPLETED, else None
    reason: NotRequired[str]  # the Reason of the last move
    created: NotRequired[str | None]
    updated: NotRequired[str | None]
    started: NotRequired[str | None]
    finished: NotRequired[str | None]
    gate: NotRequired[str]
    counts: NotRequired[dict[str, int]]  # `total` and one count per task state
    usage: NotRequired[Usage]
    error: NotRequired[str]
    workspace: NotRequired[Workspace]
    budget_stop: NotRequired[BudgetStop]  # houston.core.lifecycle.budget_stop's figure


# The JSON types of the known fields: a field of another type (a hand edit) is not
# believed, so that readers may trust the record's types.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "outcome": (str, type(None)),
    "reason": (str,),
    "created": (str, type(None)),
    "updated": (str, type(None)),
    "started": (str, type(None)),
    "finished": (str, type(None)),
    "gate": (str,),
    "counts": (dict,),
    "usage": (dict,),
    "error": (str,),
    "workspace": (dict,),
    "budget_stop": (dict,),
}


def new_status(mission_id: str, name: str, now: datetime | None) -> MissionStatus:
    """The status of a mission just submitted (`now` None: a hand-dropped one, no times)."""
    stamp = iso(now) if now else None
    return {
        "id": mission_id,
        "name": name,
        "state": MissionState.PLANNING.value,
        "outcome": None,
        "reason": Reason.USER_REQUEST.value,
        "created": stamp,
        "updated": stamp,
        "started": None,
        "finished": None,
        "counts": fresh_counts(0),
        "usage": {"tokens": 0, "cost": 0.0, "wall_time": 0.0},
    }


def parse_status(raw: object, mission_id: str, state: MissionState) -> MissionStatus | None:
    """Pure: status.json's object as a record whose `id` and `state` are the folder's;
    None if it is not a JSON object. Known fields of the wrong type are left out."""
    if not isinstance(raw, dict):
        return None
    fields = {
        key: value
        for key, value in raw.items()
        if key not in _FIELD_TYPES or isinstance(value, _FIELD_TYPES[key])
    }
    if "workspace" in fields and parse_workspace(fields["workspace"]) is None:
        del fields["workspace"]  # no repository to work in: as if not recorded
    fields["id"] = mission_id
    fields["state"] = state.value
    return cast(MissionStatus, fields)


def parse_workspace(raw: object) -> Workspace | None:
    """Pure: status.json's `workspace` (or the mission's workspace.json): None unless
    `repo` and `base` are strings."""
    if not isinstance(raw, dict):
        return None
    repo, base = raw.get("repo"), raw.get("base")
    if not isinstance(repo, str) or not isinstance(base, str):
        return None
    return {"repo": repo, "base": base}


def encode_status(status: MissionStatus) -> bytes:
    """Pure: the bytes of status.json (sorted keys, two-space indent, a final newline)."""
    return (json.dumps(status, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()
