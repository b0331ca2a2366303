"""The records of a task folder (houston/home/records.py) keep the JSON on disk as the
format has it (docs/formats.md) and read torn or foreign files as absent. That only
houston/home/ spells the files' names is tests/test_docs.py's check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from houston.home import attemptfiles, claims, fsio, taskfiles
from houston.home.records import (
    ExitRecord,
    OwnerRecord,
    ProcessRecord,
    SpecRecord,
    StateRecord,
)


def test_exit_records_keep_the_keys_and_their_order() -> None:
    worker = ExitRecord(
        "failed", 1, None, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", 1.0, "boom"
    )
    assert list(worker.encode()) == [
        "code",
        "signal",
        "reason",
        "started",
        "finished",
        "duration",
        "error",
    ]
    engine = ExitRecord("timeout", error="timeout (1s)", worker=3)
    assert engine.encode()["worker"] == 3 and list(engine.encode())[-1] == "worker"
    assert ExitRecord.parse(json.loads(json.dumps(engine.encode()))) == engine


def test_each_record_reads_back_what_it_wrote() -> None:
    records = [
        (StateRecord, StateRecord("failed", 2, "2026-01-01T00:00:00.000Z", "x", 1, 2, 0)),
        (OwnerRecord, OwnerRecord(7, "t:1", "h", "b", 0, "abc", "2026-01-01", 3)),
        (ProcessRecord, ProcessRecord(7, "t:1", "h", "b")),
        (
            SpecRecord,
            SpecRecord(
                "a",
                "p/x",
                {"k": 1},
                ("b",),
                2,
                1.5,
                {"max_tokens": 9},
                False,
                "init",
                "approve",
                "worktree",
                2,
            ),
        ),
    ]
    for kind, record in records:
        assert kind.parse(json.loads(json.dumps(record.encode()))) == record


def test_optional_keys_are_written_only_when_set() -> None:
    assert ProcessRecord(7, None).encode() == {"pid": 7, "start_token": None}
    spec = SpecRecord("a", "p/x", {}).encode()
    assert "workspace" not in spec and "crash_cap" not in spec
    assert list(spec) == [
        "id",
        "agent",
        "inputs",
        "needs",
        "retries",
        "timeout",
        "budget",
        "initializer",
        "added_by",
        "gate",
    ]


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "x",
        {},
        {"state": 3},
        {"reason": None},
        {"pid": "nan", "start_token": "t"},
        {"nonce": 1},
    ],
)
def test_what_is_not_a_record_reads_as_none(data: object) -> None:
    for kind in (StateRecord, ExitRecord, OwnerRecord, ProcessRecord, SpecRecord):
        assert kind.parse(data) is None


def test_torn_and_missing_files_read_as_absent(tmp_path: Path) -> None:
    mission = tmp_path / "m"
    attempt = taskfiles.attempt_dir(mission, "a", 1)
    attempt.mkdir(parents=True)
    assert taskfiles.read_state(mission, "a") is None
    assert attemptfiles.read_exit(attempt) is None and attemptfiles.read_agent(attempt) is None
    (attempt / "exit.json").write_text('{"code": 0, "reas')  # a writer killed mid-way
    (taskfiles.task_dir(mission, "a") / "state.json").write_text("[1, 2]")
    assert attemptfiles.read_exit(attempt) is None
    assert taskfiles.read_state(mission, "a") is None
    assert claims.read_owner(taskfiles.task_dir(mission, "a")) is None


def test_the_one_exit_writer_writes_what_readers_read(tmp_path: Path) -> None:
    attempt = tmp_path / "1"
    attempt.mkdir()
    record = ExitRecord("interrupted", error="its engine died")
    attemptfiles.write_exit(attempt, record)
    assert fsio.read_json(attempt / "exit.json") == {
        "code": None,
        "signal": None,
        "reason": "interrupted",
        "started": None,
        "finished": None,
        "duration": None,
        "error": "its engine died",
    }
    assert attemptfiles.read_exit(attempt) == record
    attemptfiles.write_exit(tmp_path / "gone", record)  # the engine's: a folder gone is fine
    with pytest.raises(FileNotFoundError):
        attemptfiles.write_exit(tmp_path / "gone", record, missing_ok=False)


def test_a_claim_names_its_owner(tmp_path: Path) -> None:
    task = tmp_path / "tasks" / "a"
    task.mkdir(parents=True)
    nonce = claims.claim_task(task, ProcessRecord(7, "t:1", "h", "b"), 2, 5)
    owner = claims.read_owner(task)
    assert nonce is not None and owner is not None
    assert (owner.nonce, owner.slot, owner.attempt, owner.pid) == (nonce, 2, 5, 7)
    assert list(fsio.read_json(task / "lock" / "owner.json")) == [
        "pid",
        "start_token",
        "host",
        "boot_id",
        "slot",
        "nonce",
        "since",
        "attempt",
    ]
    assert claims.claim_task(task, ProcessRecord(8, "t:2"), 0, 6) is None


def test_attempt_paths_come_from_home(tmp_path: Path) -> None:
    mission = tmp_path / "missions" / "EXECUTING" / "m1"
    path = taskfiles.attempt_path(mission, "t", 3)
    assert Path(path) == taskfiles.attempt_dir(mission, "t", 3)
    assert taskfiles.attempt_names(path) == ("m1", "t", 3)
    assert Path(taskfiles.scratch_dir(str(mission))) == tmp_path / "missions" / ".tmp"
