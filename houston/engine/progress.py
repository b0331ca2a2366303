"""The terminal display of `houston run`: one live line on a TTY, plain lines otherwise.

It is an engine observer (called for every event the engine emits, in the engine's
thread), keeps a small summary, and redraws at most ten times a second.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

_FINAL = ("succeeded", "failed", "cancelled", "skipped")


class Progress:
    def __init__(self, stream: TextIO, *, tty: bool, workers: int) -> None:
        self.stream = stream
        self.tty = tty
        self.workers = workers
        self.started = time.monotonic()
        self.mission = ""
        self.state = "COMMITTED"
        self.tasks: dict[tuple[str, str], str] = {}
        self.busy: set[int] = set()
        self.tokens = 0
        self.cost = 0.0
        self._drawn = 0.0

    def __call__(self, type_: str, mission: str | None, task: str | None,
                 attempt: int | None, data: dict[str, Any]) -> None:
        if mission and not self.mission:
            self.mission = mission
        if type_ == "mission.state":
            self.state = str(data.get("state"))
            outcome = data.get("outcome")
            self._line(f"mission {mission} {self.state}" + (f" ({outcome})" if outcome else ""))
        elif type_ == "task.state" and task:
            self.tasks[(mission or "", task)] = str(data.get("state"))
            if not self.tty and data.get("state") in _FINAL:
                error = f": {data.get('error')}" if data.get("error") else ""
                self._line(f"task {task} {data.get('state')} (attempt {attempt}){error}")
            if data.get("state") == "waiting":  # a human gate: say how to open it
                self._line(f"task {task} waiting for approval: houston approve {mission} {task}"
                           f"  (or houston reject {mission} {task})")
        elif type_ == "worker.state":
            slot = int(data.get("slot") or 0)
            (self.busy.add if data.get("state") == "busy" else self.busy.discard)(slot)
        elif type_ == "usage":
            self.tokens += int(data.get("tokens") or 0)
            self.cost += float(data.get("cost") or 0.0)
        elif type_ in ("budget.warn", "budget.stop"):
            self._line(f"{type_}: {data.get('scope')} {data.get('kind')} "
                       f"{data.get('spent')} of {data.get('limit')}")
        self.redraw()

    def summary(self) -> str:
        counts = {s: 0 for s in ("pending", "running", *_FINAL)}
        for state in self.tasks.values():
            counts[state] = counts.get(state, 0) + 1
        slots = "".join("#" if s in self.busy else "." for s in range(self.workers + 1))
        elapsed = time.monotonic() - self.started
        return (f"{self.state:<9} done {counts['succeeded']}/{len(self.tasks)}  "
                f"running {counts['running']}  failed {counts['failed']}  "
                f"workers [{slots}]  {elapsed:5.1f}s  spend {self.tokens} tok ${self.cost:.4f}")

    def redraw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if force or now - self._drawn >= 0.1:
            self._drawn = now
            self.stream.write("\r\x1b[2K" + self.summary())
            self.stream.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + "\n")
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
