"""The per-mission blackboard: append-only decisions and upsertable directives.

`blackboard/decisions.jsonl` gets one JSON line per decision (never rewritten);
`blackboard/directives/<key>.json` holds the latest value of each directive (atomic
replace). Agents use it through `ctx.blackboard` or directly through the files.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from houston.core.errors import UsageError
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import blackboard_dir, decisions_file, directives_dir

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class Blackboard:
    def __init__(
        self,
        mission_dir: Path,
        *,
        events: EventLog | None = None,
        mission_id: str | None = None,
        task_id: str | None = None,
    ) -> None:
        self.folder = blackboard_dir(mission_dir)
        self.mission_dir = mission_dir
        self.events = events
        self.mission_id = mission_id or mission_dir.name
        self.task_id = task_id

    @property
    def decisions_file(self) -> Path:
        return decisions_file(self.mission_dir)

    def directive_file(self, key: str) -> Path:
        if not _KEY.match(key) or key.endswith(".tmp"):
            raise UsageError(
                f"{key!r} is not a directive key",
                fix="use up to 128 letters, digits, '_', '.', '-'; start with a letter or digit",
            )
        return directives_dir(self.mission_dir) / f"{key}.json"

    def decide(self, text: str, **data: Any) -> dict[str, Any]:
        """Append one decision; returns the record written."""
        record = {"ts": time.time(), "task": self.task_id, "text": text, **data}
        self.folder.mkdir(parents=True, exist_ok=True)
        fsio.append_line(self.decisions_file, record)
        self._emit("decision", {"text": text})
        return record

    def decisions(self) -> list[dict[str, Any]]:
        return fsio.read_lines(self.decisions_file)

    def set_directive(self, key: str, value: Any) -> None:
        path = self.directive_file(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"key": key, "value": value, "ts": time.time(), "task": self.task_id}
        fsio.write_json_atomic(path, record, durable=False)
        self._emit("directive", {"key": key})

    def directive(self, key: str, default: Any = None) -> Any:
        try:
            return fsio.read_json(self.directive_file(key)).get("value", default)
        except (FileNotFoundError, ValueError):
            return default

    def directives(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        folder = directives_dir(self.mission_dir)
        if not folder.is_dir():
            return found
        for path in sorted(folder.glob("*.json")):
            try:
                found[path.stem] = fsio.read_json(path).get("value")
            except (OSError, ValueError, AttributeError):
                continue
        return found

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.append(
                "blackboard",
                mission=self.mission_id,
                task=self.task_id,
                data={"kind": kind, **data},
            )
