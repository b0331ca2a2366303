"""Durable file primitives: the torn-line parser is pure; writes are tried on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from houston.home import fsio


def test_parse_lines_keeps_complete_records_only() -> None:
    data = b'{"a":1}\n{"b":2}\n{"c":'
    assert fsio.parse_lines(data) == [{"a": 1}, {"b": 2}]


def test_parse_lines_skips_garbage_nul_padding_and_non_objects() -> None:
    data = b'{"a":1}\n\x00\x00\x00\nnot json\n[1,2]\n\n{"b":2}\n\x00\x00'
    assert fsio.parse_lines(data) == [{"a": 1}, {"b": 2}]


def test_parse_lines_of_nothing() -> None:
    assert fsio.parse_lines(b"") == []
    assert fsio.parse_lines(b'{"no newline":1}') == []


def test_dumps_is_one_line_and_stable() -> None:
    text = fsio.dumps({"b": "two\nlines", "a": "é"})
    assert "\n" not in text
    assert text == '{"a":"é","b":"two\\nlines"}'


def test_write_json_atomic_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    fsio.write_json_atomic(path, {"v": 1})
    fsio.write_json_atomic(path, {"v": 2})
    assert fsio.read_json(path) == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["status.json"]


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    fsio.write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        fsio.write_json_atomic(path, {"v": object()})
    assert fsio.read_json(path) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["status.json"]


def test_write_into_a_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fsio.write_bytes_atomic(tmp_path / "gone" / "x.json", b"{}")


def test_append_line_returns_offsets_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first = fsio.append_line(path, {"n": 1})
    second = fsio.append_line(path, {"n": 2}, durable=True)
    assert first == 0
    assert second == len(fsio.dumps({"n": 1})) + 1
    assert fsio.read_lines(path) == [{"n": 1}, {"n": 2}]


def test_read_lines_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert fsio.read_lines(tmp_path / "none.jsonl") == []


def test_read_lines_after_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    fsio.append_line(path, {"n": 1})
    with open(path, "ab") as f:
        f.write(b'{"n": 2, "torn')
    assert fsio.read_lines(path) == [{"n": 1}]


APPENDER = """
import sys
from pathlib import Path
from houston.home import fsio
path, who = Path(sys.argv[1]), sys.argv[2]
for n in range(200):
    fsio.append_line(path, {"who": who, "n": n, "pad": "x" * 300})
"""


def test_concurrent_appends_from_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), who]) for who in "ab"]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    lines = path.read_bytes().splitlines()
    assert len(lines) == 400
    records = [json.loads(line) for line in lines]
    for who in "ab":
        assert [r["n"] for r in records if r["who"] == who] == list(range(200))


def test_write_new_creates_once(tmp_path: Path) -> None:
    path = tmp_path / "mission.yaml"
    fsio.write_new(path, b"name: x\n")
    assert path.read_bytes() == b"name: x\n"
    with pytest.raises(FileExistsError):
        fsio.write_new(path, b"other", durable=False)
    assert path.read_bytes() == b"name: x\n"
