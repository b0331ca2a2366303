"""The mission blackboard: append-only decisions, upserted directives, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from houston.core.errors import UsageError
from houston.home.blackboard import Blackboard
from houston.home.events import EventLog


def test_decisions_append_and_directives_upsert(tmp_path: Path) -> None:
    events = EventLog(tmp_path / "events")
    board = Blackboard(tmp_path / "m", events=events, mission_id="m", task_id="a")
    board.decide("first")
    board.decide("second", score=2)
    board.set_directive("style", "terse")
    board.set_directive("style", "warm")
    assert [d["text"] for d in board.decisions()] == ["first", "second"]
    assert board.directive("style") == "warm"
    assert board.directives() == {"style": "warm"}
    assert board.directive("missing", 7) == 7
    kinds = [e["data"]["kind"] for e in events.read() if e["type"] == "blackboard"]
    assert kinds == ["decision", "decision", "directive", "directive"]


@pytest.mark.parametrize("key", ["../x", "", ".hidden", "a/b", "x.tmp"])
def test_directive_keys_cannot_escape_the_folder(tmp_path: Path, key: str) -> None:
    with pytest.raises(UsageError):
        Blackboard(tmp_path / "m").set_directive(key, 1)
