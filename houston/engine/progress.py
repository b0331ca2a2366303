"""The terminal display of `houston run`: one live line on a TTY, plain lines otherwise.

It is an engine observer (called for every event the engine emits, in the engine's
thread), keeps a small summary, and redraws at most ten times a second.

The total counts every task of the mission, not only those an event has named: when a
mission starts executing, `read_states` (given by the caller, which owns the I/O) reads
the states its tasks have on disk, and events update them from there. The live line is
cut to the terminal's width less one column: a line that wraps cannot be redrawn in
place with a carriage return, and every redraw would scroll the screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from houston.core.ids import is_decimal
from houston.core.taskstate import FINAL_STATES, TaskState, state_from_records
from houston.home import claims, taskfiles

_MIN_WIDTH = 20  # below this nothing useful fits; still never wrap

ReadStates = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class View:
    """What the live line shows; `render_line` turns it into text of a given width."""

    state: str
    states: Mapping[str, int]
    total: int
    failed: tuple[str, ...]
    busy: int
    slots: str
    elapsed: float
    tokens: int
    cost: float


def render_line(view: View, width: int) -> str:
    """Pure: the progress line in at most `width - 1` columns, least useful parts dropped."""
    room = max(width, _MIN_WIDTH) - 1
    head = f"{view.state:<9}  done {view.states.get('succeeded', 0)}/{view.total}"
    slots = (
        f"workers [{view.slots}]"
        if len(view.slots) <= 24
        else f"workers {view.busy}/{len(view.slots)}"
    )
    parts = [
        head,
        f"running {view.states.get('running', 0)}",
        _failed_part(view.failed, room - len(head) - 2),
        f"{view.elapsed:5.1f}s",
        f"spend {view.tokens} tok ${view.cost:.4f}",
        slots,
    ]
    keep = list(range(len(parts)))
    for drop in (5, 4, 3, 1):  # workers, spend, time, running: in that order
        if len("  ".join(parts[i] for i in keep)) <= room:
            break
        keep.remove(drop)
    line = "  ".join(parts[i] for i in keep)
    return line if len(line) <= room else line[: room - 1] + "~"  # ASCII: any locale


def _failed_part(failed: tuple[str, ...], room: int) -> str:
    """`failed 3 (a, b +1)`: as many names as fit in `room`, else just the count."""
    head = f"failed {len(failed)}"
    for shown in range(min(len(failed), max(room, 0) // 3 + 1), 0, -1):
        rest = len(failed) - shown
        text = f"{head} ({', '.join(failed[:shown])}{f' +{rest}' if rest else ''})"
        if len(text) <= room:
            return text
    return head


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool,
        workers: int,
        read_states: ReadStates | None = None,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.workers = workers
        self.read_states = read_states
        self.columns = columns
        self.started = time.monotonic()
        self.mission = ""
        self.state = "COMMITTED"
        self.tasks: dict[tuple[str, str], str] = {}
        self.seeded: set[str] = set()
        self.busy: set[int] = set()
        self.tokens = 0
        self.cost = 0.0
        self._drawn = 0.0

    def __call__(
        self,
        type_: str,
        mission: str | None,
        task: str | None,
        attempt: int | None,
        data: dict[str, Any],
    ) -> None:
        if mission and not self.mission:
            self.mission = mission
        if type_ == "mission.state":
            self.state = str(data.get("state"))
            self._seed(mission)
            outcome = data.get("outcome")
            self._line(f"mission {mission} {self.state}" + (f" ({outcome})" if outcome else ""))
        elif type_ == "task.state" and task:
            self.tasks[(mission or "", task)] = str(data.get("state"))
            if not self.tty and data.get("state") in FINAL_STATES:
                error = f": {data.get('error')}" if data.get("error") else ""
                self._line(f"task {task} {data.get('state')} (attempt {attempt}){error}")
            if data.get("state") == TaskState.WAITING:  # a human gate: say how to open it
                self._line(
                    f"task {task} waiting for approval: houston approve {mission} {task}"
                    f"  (or houston reject {mission} {task})"
                )
        elif type_ == "worker.state":
            slot = int(data.get("slot") or 0)
            (self.busy.add if data.get("state") == "busy" else self.busy.discard)(slot)
        elif type_ == "usage":
            self.tokens += int(data.get("tokens") or 0)
            self.cost += float(data.get("cost") or 0.0)
        elif type_ in ("budget.warn", "budget.stop"):
            self._line(
                f"{type_}: {data.get('scope')} {data.get('kind')} "
                f"{data.get('spent')} of {data.get('limit')}"
            )
        self.redraw()

    def _seed(self, mission: str | None) -> None:
        """The states on disk of a mission's tasks, once, under what events already said."""
        if not mission or mission in self.seeded or self.read_states is None:
            return
        self.seeded.add(mission)
        for task_id, state in self.read_states(mission).items():
            self.tasks.setdefault((mission, task_id), state)

    def view(self) -> View:
        counts: dict[str, int] = {}
        for state in self.tasks.values():
            counts[state] = counts.get(state, 0) + 1
        failed = tuple(sorted(task for (_, task), s in self.tasks.items() if s == TaskState.FAILED))
        return View(
            self.state,
            counts,
            len(self.tasks),
            failed,
            len(self.busy),
            "".join("#" if s in self.busy else "." for s in range(self.workers + 1)),
            time.monotonic() - self.started,
            self.tokens,
            self.cost,
        )

    def summary(self, width: int = 10_000) -> str:
        return render_line(self.view(), width)

    def redraw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if force or now - self._drawn >= 0.1:
            self._drawn = now
            self.stream.write("\r\x1b[2K" + self.summary(self._columns()))
            self.stream.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + "\n")
            self._drawn = 0.0  # the line took the status line's place: redraw it at once
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.redraw(force=True)
            self.stream.write("\n")
        else:
            self.stream.write(self.summary() + "\n")
        self.stream.flush()

    def _columns(self) -> int:
        if self.columns is not None:
            return self.columns()
        return terminal_columns(self.stream, os.environ)


def terminal_columns(stream: TextIO, environ: Mapping[str, str]) -> int:
    """The width of the terminal `stream` writes to ($COLUMNS first), else 80.

    Not `shutil.get_terminal_size`: it measures stdout, and `houston run | tee` keeps the
    progress on a terminal stderr while stdout is a pipe.
    """
    text = environ.get("COLUMNS", "")
    if is_decimal(text) and int(text) > 0:
        return int(text)
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):  # not a terminal, closed, or no fd at all
        return 80
    return columns if columns > 0 else 80  # a pseudo-terminal nobody sized says 0


def read_task_states(home: Any) -> ReadStates:
    """`read_states` for a Progress: each task's state as `houston show` judges it, from
    the few files that decide it (result, lock owner, state.json), attempts unread."""

    def read(mission_id: str) -> dict[str, str]:
        from houston.core.errors import HoustonError
        from houston.home.store import MissionStore
        from houston.views.tasks import read_outline

        try:
            ref = MissionStore(home).locate(mission_id)
        except HoustonError:
            return {}  # the display must never stop the engine; events still count
        outline = read_outline(ref.path)
        declared = (outline or {}).get("tasks", [])
        states = {str(row["id"]): str(TaskState.PENDING) for row in declared}
        try:
            for task_id in taskfiles.task_ids(ref.path):  # none if the mission moved on
                states[task_id] = _disk_state(ref.path, task_id)
        except OSError:  # the mission moved on meanwhile
            pass
        return states

    return read


def _disk_state(mission_dir: Path, task_id: str) -> str:
    if taskfiles.has_result(mission_dir, task_id):
        return state_from_records(has_result=True, locked=False, saved=None)
    if claims.has_owner(taskfiles.task_path(mission_dir, task_id)):
        return state_from_records(has_result=False, locked=True, saved=None)
    saved = taskfiles.read_state(mission_dir, task_id)
    return state_from_records(has_result=False, locked=False, saved=saved.state if saved else None)
