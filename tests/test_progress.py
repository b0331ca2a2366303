"""The progress line of `houston run`: the true total, failed tasks by name, never wrapped."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from helpers.engine import REPO

from houston.actions import submit
from houston.engine.progress import (
    Progress,
    View,
    read_task_states,
    render_line,
    terminal_columns,
)
from houston.home.layout import Home
from houston.home.store import MissionStore


def view(**changes: object) -> View:
    base: dict[str, object] = {
        "state": "EXECUTING",
        "states": {"succeeded": 3, "running": 2, "failed": 2},
        "total": 12,
        "failed": ("build-docs", "lint"),
        "busy": 2,
        "slots": "##..",
        "elapsed": 12.5,
        "tokens": 1234,
        "cost": 0.0123,
    }
    return View(**{**base, **changes})  # type: ignore[arg-type]


def test_a_wide_line_shows_everything() -> None:
    line = render_line(view(), 200)
    assert line == (
        "EXECUTING  done 3/12  running 2  failed 2 (build-docs, lint)   12.5s  "
        "spend 1234 tok $0.0123  workers [##..]"
    )


def test_the_line_never_reaches_the_last_column() -> None:
    many = tuple(f"task-{n:03}" for n in range(40))
    for width in range(1, 160):
        for shown in (view(), view(failed=many, slots="#" * 101, busy=101)):
            line = render_line(shown, width)
            assert len(line) <= max(width, 20) - 1, (width, line)
            assert line.isascii()
    assert render_line(view(), 47) == "EXECUTING  done 3/12  failed 2 (build-docs +1)"
    assert render_line(view(), 40) == "EXECUTING  done 3/12  failed 2"
    assert render_line(view(), 20) == "EXECUTING  done 3/~"
    narrow = render_line(view(failed=many), 60)
    assert narrow.startswith("EXECUTING  done 3/12  failed 40 (task-000, task-001")
    assert re.search(r"\+\d+\)$", narrow)
    assert "workers 101/101" in render_line(view(slots="#" * 101, busy=101), 200)


def test_the_total_counts_tasks_no_event_has_named_yet() -> None:
    out = io.StringIO()
    on_disk = {"a": "succeeded", "b": "pending", "c": "pending", "d": "pending"}
    progress = Progress(
        out, tty=True, workers=2, read_states=lambda m: on_disk, columns=lambda: 120
    )
    progress("mission.state", "m1", None, None, {"state": "EXECUTING"})
    progress("task.state", "m1", "b", 1, {"state": "running"})
    progress("task.state", "m1", "b", 1, {"state": "failed"})
    progress.close()
    last = out.getvalue().rsplit("\r\x1b[2K", 1)[-1]
    assert "done 1/4" in last and "running 0" in last and "failed 1 (b)" in last


@pytest.mark.process
def test_task_states_are_read_as_houston_show_reads_them(home: Home) -> None:
    from helpers.packages import cli

    hello = REPO / "missions" / "hello.yaml"
    waiting = submit(MissionStore(home), hello.read_bytes(), "hello.yaml", approve=False)
    read = read_task_states(home)
    before = read(waiting.id)
    assert len(before) >= 2 and set(before.values()) == {"pending"}
    assert read("20990101-000000-nope-abcd") == {}
    result = cli("--home", str(home.root), "run", str(hello), "--no-ui", "--workers", "2")
    assert result.code == 0, result.err
    done = [ref for ref in MissionStore(home).list() if ref.id != waiting.id]
    assert set(read(done[0].id).values()) == {"succeeded"}
    assert read(done[0].id).keys() == before.keys()


def test_terminal_columns_measure_the_stream_not_stdout() -> None:
    assert terminal_columns(io.StringIO(), {"COLUMNS": "33"}) == 33
    assert terminal_columns(io.StringIO(), {"COLUMNS": "\u0663\u0663"}) == 80
    main, child = pty.openpty()
    try:
        with open(child, "w", closefd=False) as stream:
            assert terminal_columns(stream, {}) == 80  # a new pty says 0 columns
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 47, 0, 0))
        with open(child, "w", closefd=False) as stream:
            assert terminal_columns(stream, {}) == 47
    finally:
        os.close(main)
        os.close(child)


@pytest.mark.process
def test_a_narrow_terminal_gets_one_line_redrawn_in_place(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "three.yaml"
    mission.write_text(
        "name: three\ntasks:\n"
        "  - {id: first, agent: core/shell, retries: 0, inputs: {command: 'exit 3'}}\n"
        "  - {id: second, agent: core/shell, needs: [first], inputs: {command: 'true'}}\n"
        "  - {id: third, agent: core/shell, needs: [second], inputs: {command: 'true'}}\n"
    )
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 44, 0, 0))
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(home.root),
        "run",
        str(mission),
        "--no-ui",
        "--workers",
        "2",
    ]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO)
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child, env=env
    ) as proc:
        os.close(child)
        screen = read_until_closed(main, deadline=time.monotonic() + 60)
        os.close(main)
        proc.communicate(timeout=30)
    assert proc.returncode == 1, screen
    redraws = [part for part in re.split(r"\r\x1b\[2K", screen) if part and "\n" not in part]
    assert redraws and all(len(part) <= 43 for part in redraws), redraws
    assert "done 0/3" in redraws[-1] and "failed 1 (first)" in redraws[-1]


def read_until_closed(fd: int, deadline: float) -> str:
    screen = b""
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        screen += chunk
    return screen.decode(errors="replace")
