"""Following a mission that another engine runs (`houston run` beside `houston serve`).

An engine started for given missions (`houston run`, `retry`,
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

from houston.core.lifecycle import MissionState, Outcome, Reason
from houston.engine.active import ActiveMissions
from houston.engine.control import Control
from houston.engine.emitter import Emitter
from houston.engine.options import EngineOptions
from houston.home.engine_record import read_engine_record
from houston.home.events import EventTail
from houston.home.layout import Home
from houston.home.status import MissionStatus
from houston.home.store import MissionStore
from houston.home.watch import Watcher

END_GRACE = 2.0  # seconds to wait for the last events of a mission that ended elsewhere


class Follower:
    def __init__(
        self,
        home: Home,
        store: MissionStore,
        options: EngineOptions,
        active: ActiveMissions,
        control: Control,
        watcher: Watcher,
        emitter: Emitter,
    ) -> None:
        self.home = home
        self.store = store
        self.options = options
        self.active = active
        self.control = control
        self.watcher = watcher
        self.emitter = emitter
        self.followed: dict[str, bool] = {}  # mission -> cancel already asked for
        self._follow_tail: EventTail | None = None
        self._ends: dict[str, float] = {}  # mission -> when it was first seen in COMPLETED
        self._ends_relayed: set[str] = set()  # missions whose last mission.state was relayed
        # Where the log ends now: events after it are news.
        self._log_start = emitter.log.last_id()

    def follow_others(self) -> None:
        """Look after the wanted missions that another engine holds."""
        if self.options.missions is None:
            return
        for mission_id in sorted(self.options.missions):
            if mission_id in self.active.finished or mission_id in self.active.runs:
                continue
            ref = self.store.locate_or_none(mission_id)
            if ref is None:
                continue
            if ref.state is MissionState.COMPLETED:
                self._ended_elsewhere(mission_id, self.store.summary(ref))
            elif ref.state is MissionState.EXECUTING and mission_id not in self.followed:
                self._begin_following(mission_id, ref.path)
            if self.control.stop_mode == "graceful" and self.followed.get(mission_id) is False:
                self._ask_cancel(mission_id)
        self._relay_events()

    @property
    def following(self) -> bool:
        return any(m not in self.active.finished for m in self.followed)

    def _begin_following(self, mission_id: str, folder: Path) -> None:
        self.followed[mission_id] = False
        try:
            engine = read_engine_record(folder)
        except OSError:  # it only names the other engine in a message
            engine = None
        who = f"engine pid {engine.pid}" if engine and engine.pid else "another engine"
        self.emitter.emit("engine.state", mission_id, None, None, {"state": "following", "by": who})
        if self._follow_tail is None:
            self._follow_tail = EventTail(self.emitter.log, after=self._log_start)
            self.watcher.watch(self.home.events)  # the other engine's appends wake us
            self.watcher.watch(self.home.state_dir(MissionState.COMPLETED))

    def _ended_elsewhere(self, mission_id: str, status: MissionStatus) -> None:
        self._relay_events()
        # The other engine moves the mission first and appends its last events after:
        # wait a little for them (the log's appends wake us), so that the display ends
        # with the mission's true last steps.
        first_seen = self._ends.setdefault(mission_id, time.monotonic())
        if (
            mission_id in self.followed
            and mission_id not in self._ends_relayed
            and time.monotonic() - first_seen < END_GRACE
        ):
            return
        try:
            outcome = Outcome(str(status.get("outcome")))
            reason = Reason(str(status.get("reason")))
        except ValueError:  # a record another engine has not finished writing yet
            return
        self.active.finished[mission_id] = (outcome, reason)

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
            observer = self.emitter.observer
            if (
                observer is not None
                and mission in self.followed
                and event.get("type") != "engine.state"
            ):  # engine.state: our own notes
                observer(
                    str(event.get("type")),
                    event.get("mission"),
                    event.get("task"),
                    event.get("attempt"),
                    dict(event.get("data") or {}),
                )

    def stop_following(self) -> None:
        if self._follow_tail is not None:
            self._follow_tail.close()
            self._follow_tail = None
