"""`houston run FILE` beside a running `houston serve` on the same home follows its mission
to the end, whichever engine executes it, and exits with the mission's outcome."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from helpers.engine import houston_process, wait_for

from houston.core.lifecycle import MissionState
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def mission_file(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(
        f"name: beside\ntasks:\n  - {{id: a, agent: core/shell, "
        f"inputs: {{command: '{command}'}}}}\n"
    )
    return path


def run_beside_serve(
    home: Home, mission: Path, *, interrupt: bool = False
) -> tuple[int, str, str, int]:
    """(run's exit code, stdout, stderr, serve's pid) with serve up the whole time."""
    serve = houston_process(home, "serve", "--no-ui", "--workers", "2")
    try:
        wait_for(lambda: any(home.run.glob("engine-*.json")), what="serve to start")
        run = houston_process(home, "run", str(mission), "--no-ui", "--workers", "1")
        try:
            if interrupt:
                wait_for(lambda: _executing(home), what="the mission to be running")
                wait_for(
                    lambda: len(list(home.run.glob("engine-*.json"))) == 2,
                    what="run's engine to start",
                )
                run.send_signal(signal.SIGINT)
            out, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=30)
    return run.returncode, out.decode(), err.decode(), serve.pid


def _executing(home: Home) -> bool:
    return bool(MissionStore(home).ids_in(MissionState.EXECUTING))


def claimed_by(home: Home) -> int:
    (ref,) = MissionStore(home).list()
    trail = MissionStore(home).transitions(ref)
    (claim,) = [e for e in trail if e["reason"] == "claimed"]
    return int(claim["pid"])


def test_run_follows_a_mission_that_serve_executes_to_its_success(
    home: Home, tmp_path: Path
) -> None:
    code, out, err, serve_pid = run_beside_serve(home, mission_file(tmp_path, "sleep 0.5"))
    assert claimed_by(home) == serve_pid, "serve should have claimed it (the case under test)"
    assert code == 0, err
    assert err.count("following it") == 1 and "succeeded" in out
    assert "task a succeeded" in err  # the other engine's progress is shown


def test_run_exits_1_when_the_mission_serve_executes_fails(home: Home, tmp_path: Path) -> None:
    code, _out, err, serve_pid = run_beside_serve(home, mission_file(tmp_path, "exit 3"))
    assert claimed_by(home) == serve_pid
    assert code == 1 and "failed" in err


def test_ctrl_c_of_run_cancels_the_mission_serve_executes_and_says_so(
    home: Home, tmp_path: Path
) -> None:
    code, _out, err, serve_pid = run_beside_serve(
        home, mission_file(tmp_path, "sleep 30"), interrupt=True
    )
    assert claimed_by(home) == serve_pid
    (ref,) = MissionStore(home).list()
    status = MissionStore(home).status(MissionStore(home).locate(ref.id))
    assert (status["state"], status["outcome"]) == ("COMPLETED", "cancelled")
    assert code == 1 and "cancelled" in err and "COMMITTED" not in err
    assert json.loads((MissionStore(home).locate(ref.id).path / "status.json").read_text())


def test_retry_beside_serve_follows_the_mission_too(home: Home, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    code, _out, _err, _pid = run_beside_serve(home, mission_file(tmp_path, f"test -e {flag}"))
    assert code == 1
    flag.write_text("now")
    (ref,) = MissionStore(home).list()
    serve = houston_process(home, "serve", "--no-ui", "--workers", "2")
    try:
        wait_for(lambda: any(home.run.glob("engine-*.json")), what="serve to start")
        retry = houston_process(home, "retry", ref.id, "--workers", "1")
        _out_b, err_b = retry.communicate(timeout=60)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=30)
    assert retry.returncode == 0, err_b.decode()
    status = MissionStore(home).status(MissionStore(home).locate(ref.id))
    assert status["outcome"] == "succeeded"
    claims = [
        e["pid"]
        for e in MissionStore(home).transitions(MissionStore(home).locate(ref.id))
        if e["reason"] == "claimed"
    ]
    assert claims[-1] == serve.pid  # serve ran it; retry followed it to its outcome
