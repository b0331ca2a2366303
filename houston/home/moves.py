"""The intents of mission moves, written so that a killed mover's move can be finished.

A move is: write the intent (`run/moves/<id>.json`: the transition entry about to be
recorded), rename the folder, append the entry to transitions.jsonl, write status.json,
remove the intent, all under the mission's stripe lock. A mover killed after the rename
leaves the folder in its new state with records naming the old one. The recovery sweep
finishes such moves from their intents (`repair_moves`), and also repairs any mission
whose status.json names another state than its folder, in every state folder
(`repair_statuses`: a move by hand, or a move from before intents were written); both
sweeps live in houston.home.move_repair, which reads the store that writes these intents.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from houston.home import fsio
from houston.home.layout import Home
from houston.home.trail import TransitionEntry


def intent_dir(home: Home) -> Path:
    return home.run / "moves"


def intend(home: Home, mission_id: str, entry: TransitionEntry) -> Path:
    """Write the intent of a move (call under the mission's stripe lock); its path."""
    path = intent_dir(home) / f"{mission_id}.json"
    try:
        fsio.write_json_atomic(path, entry, durable=False)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fsio.write_json_atomic(path, entry, durable=False)
    return path


def forget(intent: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        intent.unlink()
