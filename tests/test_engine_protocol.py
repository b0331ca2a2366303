"""The engine <-> worker protocol: each message survives its encoding, in both directions,
and the lines on the pipes are the JSON objects the workers have always written."""

from __future__ import annotations

import json

import pytest

from houston.engine import protocol
from houston.engine.protocol import (
    Claim,
    Done,
    Dropped,
    Ready,
    UsageReport,
    WaitingForSpace,
    WorkerMessage,
)
from houston.home.attempt_records import UsageRecord
from houston.home.records import SpecRecord
from houston.runners import AGENT_KEYS, Job


def job(task: str) -> Job:
    return Job(
        mission_id="m",
        task_id=task,
        attempt=1,
        agent_ref="p/a",
        agent={"runner": "python", "entrypoint": "m:f"},
        prompt="Be brief.",
        package_dir="/pkg",
        inputs={"n": 1},
        mission_dir="/m",
        attempt_dir=f"/m/tasks/{task}/attempts/1",
    )


@pytest.mark.parametrize(
    "message",
    [
        Ready(12),
        Ready(13, io=True),
        UsageReport(5, 0.25),
        UsageReport(1, 0.0, ("m", "t"), 3),
        Dropped(("m", "t")),
        WaitingForSpace(),
        Done(ok=False, error="bad job: x"),
        Done(ok=False, claim_failed="locked", key=("m", "t"), attempt=2),
        Done(
            ok=True,
            reason="succeeded",
            result={"a": [1]},
            exit_code=0,
            usage=UsageRecord(3),
            logs=False,
            accepted=True,
            started=1.5,
            finished=2.25,
        ),
        Done(ok=False, reason="failed", error="no room", signal=9, environment="disk full"),
        Done(ok=False, reason="crashed", crashed=True, key=("m", "t"), attempt=1),
    ],
)
def test_every_worker_message_survives_its_encoding(message: WorkerMessage) -> None:
    line = protocol.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode(json.loads(line)) == message


def test_the_wire_keeps_the_shapes_workers_always_sent() -> None:
    assert json.loads(protocol.encode(Ready(7))) == {"type": "ready", "pid": 7}
    assert json.loads(protocol.encode(Dropped(("m", "b")))) == {
        "type": "dropped",
        "mission": "m",
        "task": "b",
    }
    io_usage = json.loads(protocol.encode(UsageReport(2, 0.5, ("m", "t"), 4)))
    assert io_usage == {"type": "usage", "key": ["m", "t"], "attempt": 4, "tokens": 2, "cost": 0.5}
    failed_claim = json.loads(protocol.encode(Done(ok=False, claim_failed="attempt_exists")))
    assert failed_claim["type"] == "done" and failed_claim["claim_failed"] == "attempt_exists"
    plain = json.loads(protocol.encode(Done(ok=True)))
    assert not {"environment", "claim_failed", "crashed", "key"} & set(plain)


def test_what_the_engine_cannot_read_is_no_message() -> None:
    assert protocol.decode({"type": "telepathy"}) is None
    assert protocol.decode_lines([b'{"type": "ready", "pid": 1}', b"{torn", b"[1]"]) == [
        {"type": "ready", "pid": 1}
    ]
    done = protocol.decode({"type": "done", "ok": True, "started": "soon", "key": ["m"]})
    assert done == Done(ok=True)  # a field of the wrong type reads as absent


def test_a_job_carries_its_agent_once_per_worker() -> None:
    known: set[str] = set()
    claim = Claim(slot=1, spec=SpecRecord("a", "p/a", {}), accept=True)
    first = protocol.encode_job(job("a"), claim, known)
    second = protocol.encode_job(job("b"), claim, known)
    assert known == {"p/a"}
    assert set(AGENT_KEYS) <= set(json.loads(first)["job"])
    assert not set(AGENT_KEYS) & set(json.loads(second)["job"])
    agents: dict[str, dict[str, object]] = {}
    decoded = [protocol.decode_job(line, agents) for line in (first, second)]
    assert [j.to_dict() for j, _ in decoded] == [job("a").to_dict(), job("b").to_dict()]
    assert decoded[1][1] == claim


def test_retract_and_cancel_lines_are_found_by_their_prefix() -> None:
    retract = protocol.encode_retract(("m", "t"))
    cancel = protocol.encode_cancel(("m", "t"), 3)
    assert retract.startswith(protocol.RETRACT_PREFIX)
    assert cancel.startswith(protocol.CANCEL_PREFIX)
    assert protocol.decode_retract(retract) == ("m", "t")
    assert protocol.decode_cancel(cancel) == ("m", "t", 3)
    assert protocol.decode_retract(b'{"retract": 1}') is None
    assert protocol.job_key(protocol.encode_job(job("x"), None, set())) == ("m", "x")
