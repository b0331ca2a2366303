"""Human gates inside a mission, with real engines, workers, CLI processes and HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from helpers.engine import (
    engine_thread,
    houston_process,
    lines,
    make_test_package,
    outcome,
    submit,
    wait_for,
)

from houston.home import gates
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionRef, MissionStore
from houston.server.launcher import start
from houston.views.tasks import read_tasks

pytestmark = pytest.mark.process


def gated_mission(home: Home, runs: Path) -> MissionRef:
    """plan -> ship (gated) -> report, beside an independent side task."""
    make_test_package(home)
    return submit(
        home,
        f"""
        name: gated-inside
        tasks:
          - {{id: plan, agent: t/record, inputs: {{file: "{runs}"}}}}
          - {{id: ship, agent: t/record, needs: [plan], gate: approve,
              inputs: {{file: "{runs}"}}}}
          - {{id: report, agent: t/record, needs: [ship], inputs: {{file: "{runs}"}}}}
          - {{id: side, agent: t/record, inputs: {{file: "{runs}"}}}}
    """,
    )


def task_states(home: Home, ref: MissionRef) -> dict[str, str]:
    path = MissionStore(home).locate(ref.id).path
    return {t["id"]: t["state"] for t in read_tasks(path)}


def cli(home: Home, *args: str) -> tuple[int, str, str]:
    proc = houston_process(home, *args)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def test_a_gated_task_waits_without_blocking_others_then_approve_runs_it(
    home: Home, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    with engine_thread(home):
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="ship waiting")
        wait_for(lambda: task_states(home, ref).get("side") == "succeeded", what="side done")
        assert sorted(lines(runs)) == ["plan", "side"]  # ship never started
        assert outcome(home, ref) == ("EXECUTING", None)
        states = task_states(home, ref)
        assert states["report"] == "pending"
        wait_for(
            lambda: (
                MissionStore(home)
                .status(MissionStore(home).locate(ref.id))["counts"]
                .get("waiting")
                == 1
            ),
            what="status.json counts the waiting task",
        )
        code, out, err = cli(home, "approve", ref.id, "ship")
        assert code == 0, err
        assert "approved task ship" in out
        wait_for(lambda: outcome(home, ref) == ("COMPLETED", "succeeded"), what="done")
    ran = lines(runs)
    assert sorted(ran) == ["plan", "report", "ship", "side"]
    assert ran.index("plan") < ran.index("ship") < ran.index("report")
    gate = gates.read_gate(MissionStore(home).locate(ref.id).path, "ship")
    assert gate is not None and gate.state == "approved" and gate.by == "cli"
    events = [
        e
        for e in EventLog(home.events).read()
        if e["type"] == "task.state" and e.get("task") == "ship"
    ]
    assert [e["data"]["state"] for e in events][:2] == ["waiting", "pending"]


def test_reject_fails_the_task_with_reason_rejected(home: Home, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    with engine_thread(home):
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="ship waiting")
        code, _, err = cli(home, "reject", ref.id, "ship")
        assert code == 0, err
        wait_for(lambda: outcome(home, ref) == ("COMPLETED", "failed"), what="failed")
    path = MissionStore(home).locate(ref.id).path
    tasks = {t["id"]: t for t in read_tasks(path)}
    assert tasks["ship"]["state"] == "failed" and tasks["ship"]["error"] == "rejected"
    assert tasks["report"]["state"] in ("skipped", "cancelled")
    assert "ship" not in lines(runs) and "report" not in lines(runs)
    # A decision is taken once: deciding again is refused (exit 2, with the reason).
    code, _, err = cli(home, "approve", ref.id, "ship")
    assert code == 2 and "not waiting for approval" in err


def test_deciding_a_task_that_is_not_waiting_is_refused(home: Home, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    code, _, err = cli(home, "approve", ref.id, "ship")  # COMMITTED: no engine reached it
    assert code == 2 and "not waiting for approval" in err
    with engine_thread(home):
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="ship waiting")
        code, _, err = cli(home, "approve", ref.id, "side")  # not gated
        assert code == 2 and "not waiting for approval" in err
        code, _, err = cli(home, "reject", ref.id, "../x")
        assert code == 2 and "not a task id" in err
        assert task_states(home, ref)["ship"] == "waiting"


def test_a_restart_keeps_the_wait(home: Home, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    with engine_thread(home) as engine:
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="ship waiting")
        wait_for(lambda: task_states(home, ref).get("side") == "succeeded", what="side done")
        engine.request_stop()  # graceful: the mission goes back to COMMITTED
        wait_for(lambda: outcome(home, ref)[0] == "COMMITTED", what="requeued mission")
    path = MissionStore(home).locate(ref.id).path
    since = gates.read_gate(path, "ship")
    assert since is not None and since.state == "waiting"
    with engine_thread(home):
        wait_for(lambda: outcome(home, ref)[0] == "EXECUTING", what="claimed again")
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="waits again")
        assert sorted(lines(runs)) == ["plan", "side"]  # nothing reran, ship did not start
        assert gates.read_gate(MissionStore(home).locate(ref.id).path, "ship") == since
        code, _, err = cli(home, "approve", ref.id, "ship")
        assert code == 0, err
        wait_for(lambda: outcome(home, ref) == ("COMPLETED", "succeeded"), what="done")
    assert sorted(lines(runs)) == ["plan", "report", "ship", "side"]


def test_a_decision_taken_while_no_engine_runs_is_honoured(home: Home, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    with engine_thread(home) as engine:
        wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="ship waiting")
        engine.request_stop()
        wait_for(lambda: outcome(home, ref)[0] == "COMMITTED", what="requeued mission")
    # The gate file alone decides: a decision found at claim time is applied.
    path = MissionStore(home).locate(ref.id).path
    gates.decide(path, "ship", gates.REJECTED, "test")
    with engine_thread(home):
        wait_for(lambda: outcome(home, ref) == ("COMPLETED", "failed"), what="failed")
    assert "ship" not in lines(runs)


def test_http_endpoints_approve_a_waiting_task_with_the_token_only(
    home: Home, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    ref = gated_mission(home, runs)
    handle = start(home, port=0)
    try:
        with engine_thread(home), httpx.Client(base_url=handle.base_url, timeout=10) as client:
            wait_for(lambda: task_states(home, ref).get("ship") == "waiting", what="waiting")
            url = f"/api/missions/{ref.id}/tasks/ship/approve"
            assert client.post(url).status_code in (401, 403)  # no token
            evil = {"Authorization": f"Bearer {handle.token}", "Origin": "http://evil.test"}
            assert client.post(url, headers=evil).status_code == 403
            assert task_states(home, ref)["ship"] == "waiting"
            auth = {"Authorization": f"Bearer {handle.token}"}
            bad = client.post(f"/api/missions/{ref.id}/tasks/side/approve", headers=auth)
            assert bad.status_code == 409 and "not waiting" in bad.json()["error"]
            assert (
                client.post(f"/api/missions/{ref.id}/tasks/ship/launch", headers=auth).status_code
                == 404
            )
            answer = client.post(url, headers=auth)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "id": ref.id,
                "state": "EXECUTING",
                "task": "ship",
                "gate": "approved",
            }
            wait_for(lambda: outcome(home, ref) == ("COMPLETED", "succeeded"), what="done")
    finally:
        handle.stop()
    gate = json.loads(
        (MissionStore(home).locate(ref.id).path / "tasks" / "ship" / "gate.json").read_text()
    )
    assert gate["by"] == "http"
