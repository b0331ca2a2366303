"""The launcher and the JSON API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from houston.actions import submit
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

GATED = (
    b"name: gated\ngate: approve\nbudget: {max_tokens: 100}\n"
    b"tasks:\n  - id: a\n    agent: core/shell\n"
)


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


@pytest.fixture
def api(server: ServerHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
        yield client


def test_port_zero_picks_a_free_port_and_records_it(server: ServerHandle) -> None:
    record = fsio.read_json(server.home.run / "server.json")
    assert record["port"] == server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"


def test_a_taken_port_falls_back_to_a_free_one(home: Home) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        handle = start(home, port=port)
        try:
            assert handle.port not in (0, port)
        finally:
            handle.stop()
    assert not (home.run / "server.json").exists()


def test_two_servers_in_turn_in_one_process_both_stream(home: Home) -> None:
    for _ in range(2):
        handle = start(home, port=0)
        try:
            headers = {"Authorization": f"Bearer {handle.token}"}
            with httpx.stream(
                "GET", f"{handle.base_url}/events?since=-1", headers=headers, timeout=10
            ) as answer:
                EventLog(home.events).append("usage")
                first = [line for line, _ in zip(answer.iter_lines(), range(4), strict=False)]
                assert any(line.startswith("data: ") for line in first)
        finally:
            handle.stop()


def test_list_and_show_missions_with_a_resume_point(
    server: ServerHandle, api: httpx.Client
) -> None:
    store = MissionStore(server.home)
    mission = submit(store, GATED, "m.yaml").id
    EventLog(server.home.events).append("usage", mission=mission)
    listing = api.get("/api/missions").json()
    assert listing["counts"]["PLANNING"] == 1
    assert [m["id"] for m in listing["missions"]] == [mission]
    assert listing["last_event_id"] == EventLog(server.home.events).last_id()
    detail = api.get(f"/api/missions/{mission[:12]}").json()
    assert detail["id"] == mission and detail["state"] == "PLANNING"
    assert detail["budget"]["max_tokens"] == 100
    assert [t["id"] for t in detail["tasks"]] == ["a"]
    assert api.get("/api/missions?state=COMPLETED").json()["missions"] == []


def test_missing_things_answer_404_with_a_hint(api: httpx.Client) -> None:
    answer = api.get("/api/missions/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["fix"]
    assert api.post("/api/missions/x/explode").status_code == 404


def test_task_log_tail(server: ServerHandle, api: httpx.Client) -> None:
    ref = submit(MissionStore(server.home), GATED, "m.yaml")
    attempt = ref.path / "tasks" / "a" / "attempts" / "1"
    attempt.mkdir(parents=True)
    fsio.write_json_atomic(
        ref.path / "tasks" / "a" / "state.json", {"state": "running", "attempt": 1, "worker": 2}
    )
    (attempt / "stdout.log").write_text("one\ntwo\n")
    answer = api.get(f"/api/missions/{ref.id}/tasks/a/log?tail=4").json()
    assert answer["text"] == "two\n" and answer["size"] == 8 and answer["attempt"] == 1
    assert api.get(f"/api/missions/{ref.id}/tasks/..%2Fx/log").status_code in (400, 404)


def test_submit_then_approve_reject_and_errors(server: ServerHandle, api: httpx.Client) -> None:
    created = api.post("/api/missions", content=GATED)
    assert created.status_code == 201, created.text
    mission = created.json()["id"]
    assert created.json()["state"] == "PLANNING"
    assert api.post(f"/api/missions/{mission}/approve").json()["state"] == "COMMITTED"
    again = api.post(f"/api/missions/{mission}/reject")
    assert again.status_code == 409
    bad = api.post("/api/missions", content=b"name: x\ntasks: 3\n")
    assert bad.status_code == 400
    assert "mission.yaml" in json.dumps(bad.json())
    assert len(MissionStore(server.home).list()) == 1


def test_cancel_of_a_running_mission_is_a_request_and_retry_reopens(
    server: ServerHandle, api: httpx.Client
) -> None:
    from houston.core.lifecycle import MissionState, Reason

    store = MissionStore(server.home)
    mission = submit(store, GATED, "m.yaml", approve=True).id
    store.move(mission, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    answer = api.post(f"/api/missions/{mission}/cancel").json()
    assert answer == {"id": mission, "state": "EXECUTING", "requested": True}
    assert (store.locate(mission).path / "cancel.request").is_file()
    store.move(mission, MissionState.EXECUTING, MissionState.COMPLETED, Reason.CANCELLED)
    assert api.post(f"/api/missions/{mission}/retry").json()["state"] == "COMMITTED"
    trail = store.transitions(store.locate(mission))
    assert trail[-1]["detail"]["by"] == "http"
