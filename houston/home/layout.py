"""The home folder (default `./.houston`): where every piece of state lives (docs/formats.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from houston.core.errors import EnvironmentFault, StoreError, environment_fault
from houston.core.lifecycle import MissionState

DEFAULT_HOME = ".houston"

# The files and folders of a mission folder (docs/formats.md, "A mission folder"): only
# houston.home spells them; everyone else asks the helpers below for their paths.
MISSION_SPEC = "mission.yaml"
STATUS = "status.json"
TRAIL = "transitions.jsonl"
CONTEXT = "context.md"
ENGINE_RECORD = "engine.json"
CANCEL_REQUEST = "cancel.request"
MISSION_WORKSPACE = "workspace.json"
OUTPUTS = "outputs"
BLACKBOARD = "blackboard"
TASKS = "tasks"


def spec_file(mission_dir: Path) -> Path:
    return mission_dir / MISSION_SPEC


def status_file(mission_dir: Path) -> Path:
    return mission_dir / STATUS


def trail_file(mission_dir: Path) -> Path:
    return mission_dir / TRAIL


def context_file(mission_dir: Path) -> Path:
    return mission_dir / CONTEXT


def engine_file(mission_dir: Path) -> Path:
    """While EXECUTING: the record of the engine that claimed the mission."""
    return mission_dir / ENGINE_RECORD


def cancel_request_file(mission_dir: Path) -> Path:
    return mission_dir / CANCEL_REQUEST


def workspace_file(mission_dir: Path) -> Path:
    """The mission's repository and base commit, when not recorded at submit."""
    return mission_dir / MISSION_WORKSPACE


def outputs_dir(mission_dir: Path) -> Path:
    return mission_dir / OUTPUTS


def blackboard_dir(mission_dir: Path) -> Path:
    return mission_dir / BLACKBOARD


def decisions_file(mission_dir: Path) -> Path:
    return blackboard_dir(mission_dir) / "decisions.jsonl"


def directives_dir(mission_dir: Path) -> Path:
    return blackboard_dir(mission_dir) / "directives"


def tasks_dir(mission_dir: Path) -> Path:
    return mission_dir / TASKS


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def locate(cls, option: str | None = None, environ: Mapping[str, str] | None = None) -> Home:
        """`--home` wins over `HOUSTON_HOME`, which wins over `./.houston`."""
        env = os.environ if environ is None else environ
        chosen = option or env.get("HOUSTON_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().absolute())

    @classmethod
    def of_mission(cls, mission_dir: Path) -> Home:
        """The home a mission folder is in (`<home>/missions/<STATE>/<id>`)."""
        return cls(mission_dir.parent.parent.parent)

    @property
    def missions(self) -> Path:
        return self.root / "missions"

    @property
    def tmp(self) -> Path:
        return self.missions / ".tmp"

    def state_dir(self, state: MissionState) -> Path:
        return self.missions / state.value

    def mission_dir(self, state: MissionState, mission_id: str) -> Path:
        return self.missions / state.value / mission_id

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def locks(self) -> Path:
        return self.run / "locks"

    @property
    def server_record(self) -> Path:
        """`run/server.json`: the port and token of the running `houston serve`."""
        return self.run / "server.json"

    @property
    def mission_index(self) -> Path:
        """`run/mission-index.json`: the server's mission list between its starts."""
        return self.run / "mission-index.json"

    @property
    def workers_log(self) -> Path:
        """`run/workers.log`: what workers print outside any attempt (start-up errors)."""
        return self.run / "workers.log"

    @property
    def local_model_log(self) -> Path:
        """`run/local-model.log`: the embedded llama.cpp server's output."""
        return self.run / "local-model.log"

    def engine_run_file(self, pid: int) -> Path:
        """`run/engine-<pid>.json`: an engine running on this machine (or a dead one's)."""
        return self.run / f"engine-{pid}.json"

    def engine_run_files(self) -> list[Path]:
        """Every `run/engine-<pid>.json`, sorted."""
        return sorted(self.run.glob("engine-*.json"))

    def worktree(self, mission_id: str, task_id: str, attempt: int) -> Path:
        """An attempt's git worktree."""
        return self.worktrees / mission_id / task_id / str(attempt)

    @property
    def worktrees(self) -> Path:
        """`worktrees/<mission>/<task>/<attempt>/`: outside the mission folder, which moves."""
        return self.root / "worktrees"

    @property
    def lockfile(self) -> Path:
        return self.root / "houston.lock"

    def exists(self) -> bool:
        return all(self.state_dir(s).is_dir() for s in MissionState)

    def ensure(self) -> Home:
        """Create the layout if needed and check that all mission folders share one device."""
        folders = [self.tmp, *(self.state_dir(s) for s in MissionState)]
        try:
            for folder in [*folders, self.packages, self.events, self.locks]:
                folder.mkdir(parents=True, exist_ok=True)
            if self.run.stat().st_mode & 0o777 != 0o700:  # a read-only home stays usable
                self.run.chmod(0o700)
        except OSError as exc:
            fault = environment_fault(exc)
            if fault is not None:
                raise EnvironmentFault(
                    f"cannot set up the home folder: {fault.what}", where=fault.where, fix=fault.fix
                ) from exc
            raise StoreError(
                f"cannot create the home folder: {exc.strerror}",
                where=str(exc.filename or self.root),
                fix="choose a writable folder with --home or HOUSTON_HOME",
            ) from exc
        self.check_one_device(folders)
        return self

    def check_one_device(self, folders: list[Path]) -> None:
        devices = {f: f.stat().st_dev for f in folders}
        if len(set(devices.values())) > 1:
            listing = ", ".join(f"{f} (device {d})" for f, d in devices.items())
            raise StoreError(
                "mission folders are on more than one filesystem, so moves would not be atomic",
                where=listing,
                fix="keep all of missions/ on one filesystem (no mount points inside it)",
            )

    def require(self) -> Home:
        """For read commands: the home must exist already; never create it as a side effect."""
        if not self.exists():
            raise StoreError(
                "no Houston home here",
                where=str(self.root),
                fix="run `houston init`, submit a mission, or point --home/HOUSTON_HOME at one",
            )
        return self
