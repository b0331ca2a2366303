"""views/logs.py: the one reader of attempt logs, its tail and what was added since an
offset, on real files."""

from __future__ import annotations

from pathlib import Path

from houston.views.logs import LogChunk, read_log, read_tail, tail_lines


def test_a_tail_an_offset_and_a_missing_log(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    log.write_bytes(b"one\ntwo\nthree\n")
    assert read_log(log, None, 6) == LogChunk(b"three\n", 8, 14)
    assert read_log(log, None, 100) == LogChunk(b"one\ntwo\nthree\n", 0, 14)
    assert read_log(log, 4, None) == LogChunk(b"two\nthree\n", 4, 14)
    assert read_log(log, 4, 3).end == 7
    assert read_log(log, 99, None) == LogChunk(b"", 14, 14)  # past its end is its end
    assert read_log(tmp_path / "none.log", None, 10) == LogChunk(b"", 0, 0)
    assert read_log(log / "under-a-file.log", 0, None) == LogChunk(b"", 0, 0)


def test_a_tail_drops_the_line_it_cut(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    log.write_bytes(b"first line\nsecond\nthird\n")
    assert read_tail(log, 10) == b"third\n"  # `second\nthird\n` cut inside `second`
    assert read_tail(log, 100) == b"first line\nsecond\nthird\n"
    assert read_tail(tmp_path) == b""  # a folder: unreadable, an empty tail
    assert tail_lines(b"a\nb\nc\n", 2) == "b\nc"
