"""status.json and the trail's entries as typed records: parsed and encoded in one place,
the bytes on disk as before (docs/formats.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from houston.core.lifecycle import MissionState, Outcome, Reason
from houston.home import fsio
from houston.home.cancels import (
    cancel_requested,
    cancel_requested_by,
    withdraw_cancel_request,
    write_cancel_request,
)
from houston.home.engine_record import (
    read_engine_record,
    remove_engine_record,
    write_engine_record,
)
from houston.home.layout import Home, cancel_request_file, engine_file, status_file, trail_file
from houston.home.records import ProcessRecord
from houston.home.status import encode_status, new_status, parse_status
from houston.home.store import MissionStore
from houston.home.trail import parse_entry, transition_entry

NOW = datetime(2026, 11, 22, 3, 4, 5, 123000, tzinfo=UTC)


def test_parse_takes_id_and_state_from_the_folder_and_keeps_unknown_fields() -> None:
    raw = {"id": "other", "state": "PLANNING", "name": "n", "later_field": [1, 2]}
    status = parse_status(raw, "m1", MissionState.COMPLETED)
    assert status == {"id": "m1", "state": "COMPLETED", "name": "n", "later_field": [1, 2]}
    assert raw["id"] == "other"  # the object read is not changed under its reader


def test_parse_leaves_out_known_fields_of_the_wrong_type() -> None:
    raw = {"name": 3, "usage": "lots", "counts": {"total": 2}, "outcome": None, "gate": "none"}
    status = parse_status(raw, "m1", MissionState.COMPLETED)
    assert status is not None
    assert "name" not in status and "usage" not in status
    assert status["counts"] == {"total": 2} and status["outcome"] is None
    assert parse_status(["not", "an", "object"], "m1", MissionState.PLANNING) is None
    assert parse_status(None, "m1", MissionState.PLANNING) is None


def test_encode_is_the_json_every_writer_of_status_json_used() -> None:
    status = new_status("m1", "größe", NOW)
    expected = json.dumps(status, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    assert encode_status(status) == expected.encode()
    assert status["created"] == status["updated"] == "2026-11-22T03:04:05.123Z"
    assert new_status("m1", "m1", None)["created"] is None


def test_parse_entry_accepts_entries_and_refuses_what_is_not_one() -> None:
    entry = transition_entry(
        MissionState.EXECUTING,
        MissionState.COMPLETED,
        Reason.ALL_TASKS_DONE,
        Outcome.SUCCEEDED,
        NOW,
        {"by": "cli"},
    )
    assert parse_entry(json.loads(json.dumps(entry))) == entry
    assert entry["outcome"] == "succeeded" and entry["detail"] == {"by": "cli"}
    creation = transition_entry(None, MissionState.PLANNING, Reason.USER_REQUEST, None, NOW)
    assert parse_entry(creation) == creation and "outcome" not in creation
    for bad in (
        {**entry, "to": "DONE"},
        {**entry, "reason": "because"},
        {**entry, "from": "NOWHERE"},
        {**entry, "ts": 5},
        "text",
        None,
    ):
        assert parse_entry(bad) is None


def test_the_store_reads_and_writes_the_typed_record(home: Home) -> None:
    store = MissionStore(home)
    ref = store.create(b"name: x\n", "x", summary={"gate": "none"}, now=NOW)
    on_disk = status_file(ref.path).read_bytes()
    summary = store.summary(ref)
    assert encode_status(summary) == on_disk  # read and written back: the same bytes
    assert summary["gate"] == "none" and store.status(ref) == dict(summary)
    moved = store.move(
        ref.id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST, now=NOW
    )
    raw = fsio.read_json(status_file(moved.path))
    raw["from_a_later_version"] = {"kept": True}
    fsio.write_json_atomic(status_file(moved.path), raw)
    written = store.update_status(moved, name="y")
    # A field this version does not know is kept: read it past the TypedDict's known keys.
    assert dict(written)["from_a_later_version"] == {"kept": True} and written["name"] == "y"
    assert fsio.read_json(status_file(moved.path)) == written
    trail = [parse_entry(line) for line in fsio.read_lines(trail_file(moved.path))]
    assert [(e and e["from"], e and e["to"]) for e in trail] == [
        (None, "PLANNING"),
        ("PLANNING", "COMMITTED"),
    ]


def test_a_folder_without_status_json_reads_as_a_fresh_status(home: Home) -> None:
    folder = home.mission_dir(MissionState.COMMITTED, "20261122-030405-hand-abcd")
    folder.mkdir()
    ref = MissionStore(home).locate("20261122-030405-hand-abcd")
    summary = MissionStore(home).summary(ref)
    assert summary["id"] == ref.id and summary["state"] == "COMMITTED"
    assert summary["name"] == ref.id and summary["created"] is None


def test_a_cancel_request_is_written_once_and_says_who(tmp_path: Path) -> None:
    assert cancel_requested_by(tmp_path) is None and not cancel_requested(tmp_path)
    write_cancel_request(tmp_path, "http", NOW)
    write_cancel_request(tmp_path, "cli", NOW)  # the first request stays
    assert fsio.read_json(cancel_request_file(tmp_path)) == {
        "ts": "2026-11-22T03:04:05.123Z",
        "by": "http",
    }
    assert cancel_requested(tmp_path) and cancel_requested_by(tmp_path) == "http"
    cancel_request_file(tmp_path).write_text("[]")
    assert cancel_requested_by(tmp_path) == "someone"  # a request that does not say who
    withdraw_cancel_request(tmp_path)
    assert not cancel_requested(tmp_path)


def test_the_engine_record_is_written_read_and_removed(tmp_path: Path) -> None:
    assert read_engine_record(tmp_path) is None
    identity = {"pid": 42, "start_token": "123@boot", "host": "h", "boot_id": "boot"}
    write_engine_record(tmp_path, ProcessRecord(42, "123@boot", "h", "boot"), NOW)
    written = fsio.read_json(engine_file(tmp_path))
    assert written == {**identity, "since": "2026-11-22T03:04:05.123Z"}
    found = read_engine_record(tmp_path)
    assert found is not None and found.encode() == written
    engine_file(tmp_path).write_text("{torn")
    assert read_engine_record(tmp_path) is None  # a torn write reads as no record
    remove_engine_record(tmp_path)
    remove_engine_record(tmp_path)  # gone already: nothing to do
    assert not engine_file(tmp_path).exists()
