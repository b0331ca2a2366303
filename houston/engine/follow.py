"""Following a mission that another engine runs (`houston run` beside `houston serve`).

A mixin of `Engine`. An engine started for given missions (`houston run`, `retry`,
`recover --finish`) may lose the claim to another engine on the same home. It then
follows the mission to its end instead of waiting forever: the other engine's events for
it are fed to the observer (the terminal shows its progress), and once the mission is in
COMPLETED its outcome is taken from status.json as if this engine had finished it.
A stop request while following asks the running engine to cancel the mission (what a
stop of `houston run` means), and a forced stop leaves it to that engine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from houston import fsio
from houston.core.lifecycle import MissionState, Outcome, Reason
from houston.events import EventLog, EventTail

END_GRACE = 2.0  # seconds to wait for the last events of a mission that ended elsewhere

if TYPE_CHECKING:
    from collections.abc import Callable

    from houston.engine.engine import EngineOptions
    from houston.engine.mission_run import MissionRun
    from houston.engine.watch import Watcher
    from houston.home import Home
    from houston.store import MissionStore

    Observer = Callable[[str, str | None, str | None, int | None, dict[str, Any]], None]


class Following:
    if TYPE_CHECKING:  # provided by Engine
        home: Home
        options: EngineOptions
        store: MissionStore
        events: EventLog
        missions: dict[str, MissionRun]
        finished: dict[str, tuple[Outcome, Reason]]
        observer: Observer | None
        watcher: Watcher
        stop_mode: str | None

        def emit(self, type_: str, mission: str | None, task: str | None,
                 attempt: int | None, data: dict[str, Any]) -> None: ...

    followed: dict[str, bool]  # mission -> cancel already asked for
    _follow_tail: EventTail | None
    _log_start: int
    _ends: dict[str, float]  # mission -> when it was first seen in COMPLETED
    _ends_relayed: set[str]  # missions whose final mission.state event was relayed

    def start_following(self) -> None:
        """Called at engine start: where the log ends now (events after it are news)."""
        self.followed, self._follow_tail = {}, None
        self._ends, self._ends_relayed = {}, set()
        self._log_start = self.events.last_id()

    def follow_others(self) -> None:
        """Look after the wanted missions that another engine holds."""
        if self.options.missions is None:
            return
        for mission_id in sorted(self.options.missions):
            if mission_id in self.finished or mission_id in self.missions:
                continue
            ref = self.store.locate_or_none(mission_id)
            if ref is None:
                continue
            if ref.state is MissionState.COMPLETED:
                self._ended_elsewhere(mission_id, self.store.status(ref))
            elif ref.state is MissionState.EXECUTING and mission_id not in self.followed:
                self._begin_following(mission_id, ref.path)
            if self.stop_mode == "graceful" and self.followed.get(mission_id) is False:
                self._ask_cancel(mission_id)
        self._relay_events()

    @property
    def following(self) -> bool:
        return any(m not in self.finished for m in getattr(self, "followed", {}))

    def _begin_following(self, mission_id: str, folder: Path) -> None:
        self.followed[mission_id] = False
        engine = _read(folder / "engine.json")
        who = f"engine pid {engine.get('pid')}" if engine.get("pid") else "another engine"
        self.emit("engine.state", mission_id, None, None, {"state": "following", "by": who})
        if self._follow_tail is None:
            self._follow_tail = EventTail(self.events, after=self._log_start)
            self.watcher.watch(self.home.events)  # the other engine's appends wake us
            self.watcher.watch(self.home.state_dir(MissionState.COMPLETED))

    def _ended_elsewhere(self, mission_id: str, status: dict[str, Any]) -> None:
        self._relay_events()
        # The other engine moves the mission first and appends its last events after:
        # wait a little for them (the log's appends wake us), so that the display ends
        # with the mission's true last steps.
        first_seen = self._ends.setdefault(mission_id, time.monotonic())
        if (mission_id in self.followed and mission_id not in self._ends_relayed
                and time.monotonic() - first_seen < END_GRACE):
            return
        try:
            outcome = Outcome(str(status.get("outcome")))
            reason = Reason(str(status.get("reason")))
        except ValueError:  # a record another engine has not finished writing yet
            return
        self.finished[mission_id] = (outcome, reason)

    def _ask_cancel(self, mission_id: str) -> None:
        from houston import actions

        self.followed[mission_id] = True
        ref = self.store.locate_or_none(mission_id)
        if ref is not None and ref.state is MissionState.EXECUTING:
            actions.request_cancel(self.store, ref, by="houston run stopped")

    def _relay_events(self) -> None:
        """The followed missions' events, as if this engine had emitted them."""
        if self._follow_tail is None:
            return
        for event in self._follow_tail.poll(limit=10_000):
            mission, data = event.get("mission"), event.get("data") or {}
            if event.get("type") == "mission.state" and data.get("state") == "COMPLETED":
                self._ends_relayed.add(str(mission))
            if (self.observer is not None and mission in self.followed
                    and event.get("type") != "engine.state"):  # engine.state: our own notes
                self.observer(str(event.get("type")), event.get("mission"), event.get("task"),
                              event.get("attempt"), dict(event.get("data") or {}))

    def stop_following(self) -> None:
        if self._follow_tail is not None:
            self._follow_tail.close()
            self._follow_tail = None


def _read(path: Path) -> dict[str, Any]:
    try:
        found = fsio.read_json(path)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
