"""The typed records of the on-disk format (houston/home/records.py, attempt_records.py,
coding_records.py, gates.py, engine_record.py, mission_workspace.py) and the claim of a job
line keep the JSON as the format has it (docs/formats.md) and read torn, partial or foreign
files as absent, or as the readers before them did. That only
houston/home/ spells the files' names is tests/test_docs.py's check."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from houston.core.lifecycle import MissionState
from houston.engine.protocol import Claim
from houston.home import attemptfiles, claims, fsio, gates, runnerfiles, taskfiles
from houston.home.attempt_records import UsageRecord
from houston.home.coding_records import ClaudeSessionRecord, WorkspaceRecord
from houston.home.engine_record import (
    EngineRecord,
    RunningEngine,
    read_engine_record,
    remove_running_engine,
    running_engines,
    write_engine_record,
    write_running_engine,
)
from houston.home.layout import Home, engine_file, status_file, workspace_file
from houston.home.mission_workspace import record_workspace, recorded_workspace
from houston.home.records import (
    ExitRecord,
    OwnerRecord,
    ProcessRecord,
    SpecRecord,
    StateRecord,
)
from houston.home.server_record import (
    ServerRecord,
    read_server_record,
    remove_server_record,
    write_server_record,
)
from houston.home.status import parse_status

NOW = datetime(2026, 11, 22, 3, 4, 5, 123000, tzinfo=UTC)
NOW_TEXT = "2026-11-22T03:04:05.123Z"
EXECUTING = MissionState.EXECUTING


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


class _Kind(Protocol):
    """A record class: its `parse` classmethod."""

    def parse(self, data: Any) -> object: ...


class _Encodes(Protocol):
    def encode(self) -> dict[str, object]: ...


def test_each_record_reads_back_what_it_wrote() -> None:
    records: list[tuple[_Kind, _Encodes]] = [
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


# -- usage.json, workspace.json, claude-session.json, gate.json, engine.json, the claim --


def test_usage_records_write_the_bytes_the_worker_always_wrote(tmp_path: Path) -> None:
    said = UsageRecord.of(22, 0.1, "m1", 10, 5)
    attemptfiles.write_usage(tmp_path, said)
    assert (tmp_path / "usage.json").read_bytes() == (
        b'{"tokens":22,"cost":0.1,"model":"m1","input_tokens":10,"output_tokens":5}\n'
    )
    assert attemptfiles.read_usage(tmp_path) == said
    attemptfiles.write_usage(tmp_path, UsageRecord.of(3, 0.0, None, 0, 0))
    assert (tmp_path / "usage.json").read_bytes() == b'{"tokens":3,"cost":0.0}\n'
    attemptfiles.write_usage(tmp_path / "gone", said, missing_ok=True)  # the engine's
    with pytest.raises(FileNotFoundError):
        attemptfiles.write_usage(tmp_path / "gone", said)


@pytest.mark.parametrize(
    ("data", "read"),
    [
        ({"tokens": 5}, UsageRecord(5, 0.0)),  # older writers: no cost
        ({"tokens": "many", "cost": None, "model": ""}, UsageRecord(0, 0.0)),
        ({"tokens": 7.0, "cost": 1, "input_tokens": 4}, UsageRecord(7, 1.0, None, 4, None)),
        ({"tokens": True, "model": 3}, UsageRecord(0, 0.0, "3")),
        ([1], None),
        (None, None),
    ],
)
def test_partial_usage_files_read_as_before(data: object, read: UsageRecord | None) -> None:
    assert UsageRecord.parse(data) == read


def test_a_dead_workers_usage_keeps_its_model_and_split(tmp_path: Path) -> None:
    attemptfiles.write_usage(tmp_path, UsageRecord.of(10, 0.5, "m", 6, 4))
    known = attemptfiles.read_usage(tmp_path)
    assert known is not None
    attemptfiles.write_usage(tmp_path, replace(known, tokens=12, cost=0.75))
    assert fsio.read_json(tmp_path / "usage.json") == {
        "tokens": 12,
        "cost": 0.75,
        "model": "m",
        "input_tokens": 6,
        "output_tokens": 4,
    }
    (tmp_path / "usage.json").write_text('{"tokens": 1')  # torn
    assert attemptfiles.read_usage(tmp_path) is None


def test_workspace_records_keep_their_keys_and_order(tmp_path: Path) -> None:
    opened = WorkspaceRecord("houston/m/tasks/a/1", "/w/m/a/1", "abc", "/repo", state="open")
    attemptfiles.write_workspace(tmp_path, opened)
    assert (tmp_path / "workspace.json").read_bytes() == (
        b'{"branch":"houston/m/tasks/a/1","worktree":"/w/m/a/1","base":"abc","repo":"/repo",'
        b'"state":"open"}\n'
    )
    assert attemptfiles.read_workspace(tmp_path) == opened
    final = replace(opened, commit="def", files=("a.txt",), state="wip")
    attemptfiles.write_workspace(tmp_path, final)
    assert list(fsio.read_json(tmp_path / "workspace.json")) == [
        "branch",
        "worktree",
        "base",
        "repo",
        "commit",
        "files",
        "state",
    ]
    assert attemptfiles.read_workspace(tmp_path) == final
    assert WorkspaceRecord.parse({"branch": "b", "worktree": "w", "base": "c"}) is None
    odd = WorkspaceRecord.parse(
        {"branch": "b", "worktree": "w", "base": "c", "repo": "r", "files": 1}
    )
    assert odd == WorkspaceRecord("b", "w", "c", "r")


def test_claude_sessions_keep_every_key_and_read_partial_files(tmp_path: Path) -> None:
    session = ClaudeSessionRecord(
        "abc-1", 3, 0.25, {"input_tokens": 9}, "claude-x", "success", 1200
    )
    runnerfiles.write_claude_session(tmp_path, session)
    assert list(fsio.read_json(tmp_path / "claude-session.json")) == [
        "session_id",
        "num_turns",
        "cost_usd",
        "usage",
        "model",
        "subtype",
        "duration_ms",
    ]
    assert runnerfiles.read_claude_session(tmp_path) == session
    (tmp_path / "claude-session.json").write_text('{"session_id": "abc-2"}')
    assert runnerfiles.read_claude_session(tmp_path) == ClaudeSessionRecord("abc-2")
    (tmp_path / "claude-session.json").write_text('{"session_id": 7, "num_turns": true}')
    assert runnerfiles.read_claude_session(tmp_path) == ClaudeSessionRecord(None)
    (tmp_path / "claude-session.json").write_text('{"sess')
    assert runnerfiles.read_claude_session(tmp_path) is None


def test_gate_records_write_the_wait_and_the_decision(tmp_path: Path) -> None:
    assert gates.read_gate(tmp_path, "a") is None and gates.gate_state(tmp_path, "a") is None
    assert gates.open_gate(tmp_path, "a") == gates.WAITING
    waiting = fsio.read_json(gates.gate_path(tmp_path, "a"))
    assert list(waiting) == ["state", "since"] and waiting["state"] == "waiting"
    decided = gates.decide(tmp_path, "a", gates.APPROVED, "cli")
    assert list(fsio.read_json(gates.gate_path(tmp_path, "a"))) == ["state", "by", "at"]
    assert gates.read_gate(tmp_path, "a") == decided and decided.by == "cli"
    assert gates.open_gate(tmp_path, "a") == gates.APPROVED  # a decision stays
    gates.gate_path(tmp_path, "a").write_text('{"state": 1}')  # a hand edit: never believed
    assert gates.read_gate(tmp_path, "a") is None and gates.open_gate(tmp_path, "a") == "waiting"


def test_engine_records_read_what_the_liveness_check_reads(tmp_path: Path) -> None:
    write_engine_record(tmp_path, ProcessRecord(42, "9@b", "h", "b"), NOW)
    assert engine_file(tmp_path).read_bytes().decode() == (
        '{\n  "boot_id": "b",\n  "host": "h",\n  "pid": 42,\n'
        '  "since": "2026-11-22T03:04:05.123Z",\n  "start_token": "9@b"\n}\n'
    )
    assert read_engine_record(tmp_path) == EngineRecord(42, "9@b", "h", "b", NOW_TEXT)
    assert EngineRecord.parse({"pid": "42", "start_token": None}) == EngineRecord(
        42, None, None, None, None
    )
    assert EngineRecord.parse({"pid": 42, "host": "h"}) is None  # no start_token: no process
    assert EngineRecord.parse({"pid": "x", "start_token": "t"}) is None


def test_the_claim_on_a_job_line_survives_its_encoding() -> None:
    claim = Claim(1, SpecRecord("a", "p/x", {"n": 1}, workspace="worktree"), accept=True)
    encoded = json.loads(json.dumps(claim.encode()))
    assert list(encoded) == ["slot", "spec", "accept"]
    assert Claim.parse(encoded) == claim and Claim.parse(None) is None
    assert Claim.parse({"slot": 2}) == Claim(2)
    with pytest.raises(ValueError, match="slot"):
        Claim.parse({"spec": {"id": "a"}})


def test_the_missions_repository_is_recorded_once(tmp_path: Path) -> None:
    assert recorded_workspace(tmp_path) is None
    assert record_workspace(tmp_path, {"repo": "/r", "base": "abc"}) == {
        "repo": "/r",
        "base": "abc",
    }
    assert workspace_file(tmp_path).read_text() == '{"repo": "/r", "base": "abc"}'
    assert record_workspace(tmp_path, {"repo": "/other", "base": "x"}) == {
        "repo": "/r",
        "base": "abc",
    }  # the first writer wins
    status_file(tmp_path).write_text(json.dumps({"workspace": {"repo": "/s", "base": "b"}}))
    assert recorded_workspace(tmp_path) == {"repo": "/s", "base": "b"}  # submit's record first
    status_file(tmp_path).write_text(json.dumps({"workspace": {"repo": 1, "base": "b"}}))
    assert recorded_workspace(tmp_path) == {"repo": "/r", "base": "abc"}
    assert "workspace" not in (parse_status({"workspace": {"repo": 1}}, "m", EXECUTING) or {})


def test_running_engine_records_keep_their_fields(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.run.mkdir()
    record = RunningEngine(7, "1@b", "h", "b", NOW_TEXT, 4, ("m1",))
    write_running_engine(home, record)
    assert fsio.read_json(home.engine_run_file(7)) == {
        "pid": 7,
        "start_token": "1@b",
        "host": "h",
        "boot_id": "b",
        "since": NOW_TEXT,
        "workers": 4,
        "missions": ["m1"],
    }
    home.engine_run_file(8).write_text('{"pid": 8, "workers": 1}')  # a hand-made one
    home.engine_run_file(9).write_text("{torn")
    assert running_engines(home) == [
        (home.engine_run_file(7), record),
        (home.engine_run_file(8), RunningEngine(8, None, None, None, None, 1, None)),
        (home.engine_run_file(9), None),
    ]
    remove_running_engine(home, 7)
    remove_running_engine(home, 7)  # gone already: nothing to do
    assert not home.engine_run_file(7).exists()


def test_the_server_record_is_removed_only_by_its_own_server(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").ensure()
    record = ServerRecord(4242, "127.0.0.1", 8123, "http://127.0.0.1:8123/", 1.5)
    write_server_record(home, record)
    assert json.loads(home.server_record.read_text()) == {
        "pid": 4242,
        "host": "127.0.0.1",
        "port": 8123,
        "url": "http://127.0.0.1:8123/",
        "started": 1.5,
    }
    assert read_server_record(home) == record
    remove_server_record(home, 4242, 9999)  # another port: another server's record
    remove_server_record(home, 1, 8123)
    assert read_server_record(home) == record
    remove_server_record(home, 4242, 8123)
    assert not home.server_record.exists() and read_server_record(home) is None
    home.server_record.write_text('{"pid": "x", "port": 1}')
    assert read_server_record(home) is None
