"""`houston run / serve / recover / retry / logs` through the real entry point."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from helpers.engine import REPO, houston_process, wait_for
from helpers.packages import cli
from helpers.procs import alive

from houston.core.lifecycle import MissionState
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process
HELLO = str(REPO / "missions" / "hello.yaml")


def test_run_hello_succeeds_and_logs_show_it(home: Home) -> None:
    result = cli("--home", str(home.root), "run", HELLO, "--no-ui", "--workers", "2")
    assert result.code == 0, result.err
    assert "succeeded" in result.out
    (ref,) = MissionStore(home).list()
    logs = cli("--home", str(home.root), "logs", ref.id, "greet")
    assert "hello from greet" in logs.out
    again = cli("--home", str(home.root), "retry", ref.id)
    assert again.code == 2 and "cannot retry" in again.err


def test_run_a_failing_mission_exits_1(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "bad.yaml"
    task = "{id: x, agent: core/shell, inputs: {command: 'exit 4'}}"
    mission.write_text(f"name: bad\ntasks:\n  - {task}\n")
    result = cli("--home", str(home.root), "run", str(mission), "--no-ui")
    assert result.code == 1
    assert "failed" in result.err


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    mission = tmp_path / "broken.yaml"
    mission.write_text("name: broken\ntasks: 12\n")
    home = tmp_path / "h"
    assert cli("--home", str(home), "run", str(mission), "--no-ui").code == 2
    assert cli("--home", str(home), "run", str(tmp_path / "absent.yaml"), "--no-ui").code == 2
    assert cli("--home", str(home), "run", HELLO, "--set", "a=b", "--no-ui").code == 2
    assert not home.exists()


def test_a_gated_mission_without_a_terminal_needs_approve(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "gated.yaml"
    mission.write_text(
        "name: gated\ngate: approve\ntasks:\n"
        "  - {id: x, agent: core/shell, inputs: {command: 'true'}}\n"
    )
    refused = cli("--home", str(home.root), "run", str(mission), "--no-ui")
    assert refused.code == 2 and "--approve" in refused.err
    assert MissionStore(home).list() == []
    approved = cli("--home", str(home.root), "run", str(mission), "--no-ui", "--approve")
    assert approved.code == 0, approved.err


def test_recover_json_reports_nothing_on_a_clean_home(home: Home) -> None:
    result = cli("--home", str(home.root), "recover", "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"actions": [], "removed_engine_records": []}


def test_serve_stops_cleanly_on_sigterm_and_hands_missions_back(home: Home) -> None:
    from houston import actions

    ref = actions.submit(
        MissionStore(home),
        b"name: s\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'sleep 30'}}\n",
        "s.yaml",
    )
    serve = houston_process(home, "serve", "--no-ui", "--workers", "1")
    try:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="the agent to start")
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=20) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        for stream in (serve.stdout, serve.stderr):
            assert stream is not None
            stream.close()
    back = MissionStore(home).locate(ref.id)
    assert back.state is MissionState.COMMITTED
    pid = json.loads((back.path / "tasks/a/attempts/1/agent.json").read_text())["pid"]
    assert not alive(pid)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_cancels_the_run_and_stops_its_agents(
    home: Home, tmp_path: Path, presses: int
) -> None:
    mission = tmp_path / "slow.yaml"
    # The agent ignores SIGTERM: one Ctrl-C waits out the grace, two force it at once.
    mission.write_text(
        "name: slow\ntasks:\n  - {id: a, agent: core/shell, "
        "inputs: {command: \"trap '' TERM; sleep 30\"}}\n"
    )
    run = houston_process(home, "run", str(mission), "--no-ui", "--workers", "1")
    try:
        store = MissionStore(home)
        ref = wait_for(lambda: next(iter(store.list()), None), what="the submitted mission")
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="the agent to start")
        pid = json.loads(agent.read_text())["pid"]
        for _ in range(presses):
            run.send_signal(signal.SIGINT)
        assert run.wait(timeout=20) == 1
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for stream in (run.stdout, run.stderr):
            assert stream is not None
            stream.close()
    assert store.status(store.locate(ref.id))["outcome"] == "cancelled"
    assert not alive(pid)


def test_logs_follow_ends_with_the_mission(home: Home) -> None:
    assert cli("--home", str(home.root), "run", HELLO, "--no-ui").code == 0
    (ref,) = MissionStore(home).list()
    followed = cli("--home", str(home.root), "logs", ref.id, "-f")
    assert "[greet] hello from greet" in followed.out
    missing = cli("--home", str(home.root), "logs", ref.id, "nope")
    assert missing.code == 2 and "no task 'nope'" in missing.err


def test_run_on_a_terminal_shows_live_progress_and_the_dashboard(home: Home) -> None:
    """stderr on a pseudo-terminal: the progress line redraws in place and ends complete."""
    import os
    import pty
    import subprocess
    import sys
    import time

    main, child = pty.openpty()
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(home.root),
        "run",
        HELLO,
        "--port",
        "0",
        "--workers",
        "2",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child, env=env, text=True
    ) as proc:
        os.close(child)
        screen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            screen += chunk
        os.close(main)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, screen.decode(errors="replace")
    text = screen.decode(errors="replace")
    assert "\r" in text  # redrawn in place, not one line per change
    assert "done 4/4" in text and "failed 0" in text
    assert "the dashboard closed with the run; `houston serve` keeps one open" in text
    assert "dashboard: http://127.0.0.1:" in out and "succeeded" in out
