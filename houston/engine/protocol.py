"""The engine <-> worker protocol: every message, typed, encoded and decoded here only.

One JSON object a line on each pipe. Engine -> worker (the worker's stdin):

- a job: `{"job": <Job.to_dict()>, "claim": <Claim.encode()>}`; the agent's definition (AGENT_KEYS)
  travels with the first job of each agent to a worker only, later jobs leave it out;
- `{"retract": [mission, task]}`: give back a job queued behind the running one;
- `{"cancel": [mission, task, attempt]}`: stop one attempt of the network worker.

Worker -> engine (the worker's stdout): `ready`, `usage` (a delta), `done`, `dropped` (a
retracted job that had not started) and `waiting_for_space`, as the dataclasses below.
The network worker's messages name their attempt (`key`, `attempt`): it runs many.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from houston.home.attempt_records import UsageRecord
from houston.home.fsio import compact
from houston.home.records import SpecRecord
from houston.runners import AGENT_KEYS, Job

Key = tuple[str, str]  # (mission id, task id): a job, as the engine and its workers name it

RETRACT_PREFIX = b'{"retract"'  # the readers' fast path: answered before parsing jobs
CANCEL_PREFIX = b'{"cancel"'


@dataclass(frozen=True)
class Claim:
    """How the worker claims the task before running it (owner.json names its slot)."""

    slot: int
    spec: SpecRecord | None = None  # written as spec.json if the task has none yet
    accept: bool = False  # accept the result on success (not for an initializer: the engine)

    def encode(self) -> dict[str, object]:
        spec = None if self.spec is None else self.spec.encode()
        return {"slot": self.slot, "spec": spec, "accept": self.accept}

    @classmethod
    def parse(cls, data: object) -> Claim | None:
        """None: run without claiming. Raises ValueError for a claim without its slot
        (the line is then no job the worker can run)."""
        if data is None:
            return None
        if not isinstance(data, dict) or type(data.get("slot")) is not int:
            raise ValueError(f"a claim names its worker slot: {data!r}")
        return cls(data["slot"], SpecRecord.parse(data.get("spec")), data.get("accept") is True)


# -- engine -> worker -----------------------------------------------------------------


def encode_job(job: Job, claim: Claim | None, known_agents: set[str]) -> bytes:
    """A job line; `known_agents` (the refs this worker was sent) is updated."""
    body = job.to_dict()
    if job.agent_ref in known_agents:
        body = {k: v for k, v in body.items() if k not in AGENT_KEYS}
    else:
        known_agents.add(job.agent_ref)
    return _line({"job": body, "claim": None if claim is None else claim.encode()})


def decode_job(line: bytes, agents: dict[str, dict[str, Any]]) -> tuple[Job, Claim | None]:
    """The job and its claim (None: run without claiming) in one line from the engine.
    `agents` remembers each agent's definition from its first job. Raises ValueError,
    TypeError or KeyError for a line that is not a job."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise TypeError("a job is a JSON object")
    envelope = message if "job" in message else {"job": message}
    body = envelope["job"]
    if "agent" in body:
        agents[body["agent_ref"]] = {key: body[key] for key in AGENT_KEYS}
    else:
        body = {**body, **agents[body["agent_ref"]]}
    return Job.from_dict(body), Claim.parse(envelope.get("claim"))


def job_key(line: bytes) -> Key | None:
    """The (mission, task) of a job line, or None for anything else."""
    try:
        body = json.loads(line)
        body = body.get("job", body)
        return str(body["mission_id"]), str(body["task_id"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def encode_retract(key: Key) -> bytes:
    return _line({"retract": list(key)})


def decode_retract(line: bytes) -> Key | None:
    try:
        mission, task = json.loads(line)["retract"]
    except (ValueError, TypeError, KeyError):
        return None
    return str(mission), str(task)


def encode_cancel(key: Key, attempt: int) -> bytes:
    return _line({"cancel": [*key, attempt]})


def decode_cancel(line: bytes) -> tuple[str, str, int] | None:
    try:
        mission, task, number = json.loads(line)["cancel"]
        return str(mission), str(task), int(number)
    except (ValueError, TypeError, KeyError):
        return None


# -- worker -> engine -----------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    pid: int
    io: bool = False  # the network worker


@dataclass(frozen=True)
class UsageReport:
    """Tokens and cost an attempt spent since its last report (a delta)."""

    tokens: int
    cost: float
    key: Key | None = None  # named by the network worker only
    attempt: int | None = None


@dataclass(frozen=True)
class Dropped:
    key: Key


@dataclass(frozen=True)
class WaitingForSpace:
    """Its agent failed on a full disk: the worker waits for space before `done`."""


@dataclass(frozen=True)
class Done:
    """An attempt ended (or could not begin: `claim_failed`, or a line that is no job)."""

    ok: bool
    error: str | None = None
    reason: str | None = None  # what the worker wrote in exit.json
    result: Any = None
    exit_code: int | None = None
    signal: int | None = None
    usage: UsageRecord | None = None  # the attempt's usage.json, as the worker wrote it
    logs: bool = True  # anything logged: the engine reads the tail of the logs
    accepted: bool = False  # the worker accepted the result (task result.json)
    started: float | None = None
    finished: float | None = None
    environment: str | None = None  # it failed on a full disk: not the task's fault
    claim_failed: str | None = None  # attempt_exists | locked
    crashed: bool = False  # the attempt's process was lost where it ran (a Ray node)
    key: Key | None = None
    attempt: int | None = None

    @property
    def written_reason(self) -> str:
        """The reason in the exit.json the worker wrote."""
        return self.reason or ("succeeded" if self.ok else "failed")


WorkerMessage = Ready | UsageReport | Dropped | WaitingForSpace | Done
_OPTIONAL = ("reason", "environment", "claim_failed", "crashed")  # left out when unset


def encode(message: WorkerMessage) -> bytes:
    """One line of a worker's message to its engine."""
    if isinstance(message, Ready):
        return _line({"type": "ready", "pid": message.pid, **({"io": True} if message.io else {})})
    if isinstance(message, UsageReport):
        return _line(
            {
                "type": "usage",
                **_names(message.key, message.attempt),
                "tokens": message.tokens,
                "cost": message.cost,
            }
        )
    if isinstance(message, Dropped):
        return _line({"type": "dropped", "mission": message.key[0], "task": message.key[1]})
    if isinstance(message, WaitingForSpace):
        return _line({"type": "waiting_for_space"})
    fields = dict(message.__dict__)
    if message.usage is not None:
        fields["usage"] = message.usage.encode()
    names = _names(fields.pop("key"), fields.pop("attempt"))
    body = {k: v for k, v in fields.items() if k not in _OPTIONAL or v not in (None, False)}
    return _line({"type": "done", **names, **body})


def decode(raw: dict[str, Any]) -> WorkerMessage | None:
    """A worker's message as the engine reads it; None for a kind it does not know."""
    kind = raw.get("type")
    if kind == "ready":
        return Ready(int(raw.get("pid") or 0), bool(raw.get("io")))
    if kind == "usage":
        return UsageReport(
            int(raw.get("tokens") or 0),
            float(raw.get("cost") or 0.0),
            _key(raw.get("key")),
            _int(raw.get("attempt")),
        )
    if kind == "dropped":
        return Dropped((str(raw.get("mission")), str(raw.get("task"))))
    if kind == "waiting_for_space":
        return WaitingForSpace()
    if kind == "done":
        return _decode_done(raw)
    return None


def _decode_done(raw: dict[str, Any]) -> Done:
    get = raw.get  # one `done` per attempt: kept cheap
    usage = get("usage")
    return Done(
        ok=bool(get("ok")),
        error=_text(get("error")),
        reason=_text(get("reason")),
        result=get("result"),
        exit_code=_int(get("exit_code")),
        signal=_int(get("signal")),
        usage=UsageRecord.parse(usage),
        logs=bool(get("logs", True)),
        accepted=bool(get("accepted")),
        started=_float(get("started")),
        finished=_float(get("finished")),
        environment=_text(get("environment")),
        claim_failed=_text(get("claim_failed")),
        crashed=bool(get("crashed")),
        key=_key(get("key")),
        attempt=_int(get("attempt")),
    )


def decode_lines(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The JSON objects of complete lines (a line that does not parse is skipped)."""
    found = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _names(key: Key | None, attempt: int | None) -> dict[str, Any]:
    return {} if key is None else {"key": list(key), "attempt": attempt}


def _line(message: dict[str, Any]) -> bytes:
    return (compact(message) + "\n").encode()


def _key(value: Any) -> Key | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None


def _text(value: Any) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None  # not a bool, which is an int too


def _float(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is float or kind is int else None
