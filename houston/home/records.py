"""The records of a task folder (docs/formats.md, "Tasks"), typed: each is encoded by its
`encode` and parsed by its `parse` here, and nowhere else.

`parse` takes what `fsio.read_json` gave (any JSON value) and returns None for a record
that is not one (a torn or foreign file reads as absent, as readers always treated it).
`encode` keeps the keys, their order and their values as the format has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class LiveProcess(Protocol):
    """What names a process across pid reuse: agent.json, owner.json, engine records."""

    @property
    def pid(self) -> int: ...
    @property
    def start_token(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def boot_id(self) -> str | None: ...


def _int(value: Any) -> int:
    """A counter as older writers may have left it (absent, null or a string): 0 if none."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """attempts/<n>/agent.json: the agent process a runner registered."""

    pid: int
    start_token: str | None
    host: str | None = None
    boot_id: str | None = None

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {"pid": self.pid, "start_token": self.start_token}
        if self.host is not None or self.boot_id is not None:
            record.update(host=self.host, boot_id=self.boot_id)
        return record

    @classmethod
    def parse(cls, data: Any) -> ProcessRecord | None:
        if not isinstance(data, dict) or "start_token" not in data:
            return None
        try:
            pid = int(data["pid"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(
            pid,
            _opt_str(data["start_token"]),
            _opt_str(data.get("host")),
            _opt_str(data.get("boot_id")),
        )


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """lock/owner.json (and attempts/<n>/claim/owner.json): who holds a task's claim."""

    pid: int
    start_token: str | None
    host: str | None
    boot_id: str | None
    slot: int | None
    nonce: str
    since: str | None
    attempt: int

    def encode(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "start_token": self.start_token,
            "host": self.host,
            "boot_id": self.boot_id,
            "slot": self.slot,
            "nonce": self.nonce,
            "since": self.since,
            "attempt": self.attempt,
        }

    @classmethod
    def parse(cls, data: Any) -> OwnerRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("nonce"), str):
            return None
        process = ProcessRecord.parse({"start_token": None, **data})
        if process is None:
            return None
        return cls(
            process.pid,
            process.start_token,
            process.host,
            process.boot_id,
            _opt_int(data.get("slot")),
            data["nonce"],
            _opt_str(data.get("since")),
            _int(data.get("attempt")),
        )


@dataclass(frozen=True, slots=True)
class StateRecord:
    """state.json: written when a task fails, is requeued, skipped or cancelled."""

    state: str
    attempt: int
    updated: str | None
    error: str | None = None
    worker: int | None = None
    failures: int = 0
    crashes: int = 0

    def encode(self) -> dict[str, object]:
        return {
            "state": self.state,
            "attempt": self.attempt,
            "updated": self.updated,
            "error": self.error,
            "worker": self.worker,
            "failures": self.failures,
            "crashes": self.crashes,
        }

    @classmethod
    def parse(cls, data: Any) -> StateRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            return None
        return cls(
            data["state"],
            _int(data.get("attempt")),
            _opt_str(data.get("updated")),
            _opt_str(data.get("error")),
            _opt_int(data.get("worker")),
            _int(data.get("failures")),
            _int(data.get("crashes")),
        )


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """attempts/<n>/exit.json: how the attempt ended. `worker` only when the engine wrote
    it (the attempt's lock went to a tombstone, so claim/owner.json will not name it)."""

    reason: str
    code: int | None = None
    signal: int | None = None
    started: str | None = None
    finished: str | None = None
    duration: float | None = None
    error: str | None = None
    worker: int | None = None

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {
            "code": self.code,
            "signal": self.signal,
            "reason": self.reason,
            "started": self.started,
            "finished": self.finished,
            "duration": self.duration,
            "error": self.error,
        }
        if self.worker is not None:
            record["worker"] = self.worker
        return record

    @classmethod
    def parse(cls, data: Any) -> ExitRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
            return None
        duration = data.get("duration")
        return cls(
            data["reason"],
            _opt_int(data.get("code")),
            _opt_int(data.get("signal")),
            _opt_str(data.get("started")),
            _opt_str(data.get("finished")),
            float(duration) if isinstance(duration, int | float) else None,
            _opt_str(data.get("error")),
            _opt_int(data.get("worker")),
        )


@dataclass(frozen=True, slots=True)
class SpecRecord:
    """tasks/<t>/spec.json: the task as resolved, written once and never changed.
    `workspace` and `crash_cap` are written only when set."""

    id: str
    agent: str
    inputs: dict[str, Any]
    needs: tuple[str, ...] = ()
    retries: int | None = None
    timeout: float | None = None
    budget: dict[str, Any] | None = None
    initializer: bool = False
    added_by: str | None = None
    gate: str = "none"
    workspace: str | None = None
    crash_cap: int | None = None

    def encode(self) -> dict[str, object]:
        record: dict[str, object] = {
            "id": self.id,
            "agent": self.agent,
            "inputs": self.inputs,
            "needs": list(self.needs),
            "retries": self.retries,
            "timeout": self.timeout,
            "budget": self.budget,
            "initializer": self.initializer,
            "added_by": self.added_by,
            "gate": self.gate,
        }
        if self.workspace:
            record["workspace"] = self.workspace
        if self.crash_cap is not None:
            record["crash_cap"] = self.crash_cap
        return record

    @classmethod
    def parse(cls, data: Any) -> SpecRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        inputs, needs, budget = data.get("inputs"), data.get("needs"), data.get("budget")
        timeout = data.get("timeout")
        return cls(
            data["id"],
            str(data.get("agent") or ""),
            inputs if isinstance(inputs, dict) else {},
            tuple(str(n) for n in needs) if isinstance(needs, list) else (),
            _opt_int(data.get("retries")),
            timeout if isinstance(timeout, int | float) and not isinstance(timeout, bool) else None,
            budget if isinstance(budget, dict) else None,
            data.get("initializer") is True,
            _opt_str(data.get("added_by")),
            str(data.get("gate") or "none"),
            _opt_str(data.get("workspace")),
            _opt_int(data.get("crash_cap")),
        )
