"""The read side behind the dashboard: end reasons in words, the list's query and index,
cost grouping, `houston costs`, and the new endpoints over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers.dashboard import make_mission, make_missions

from houston.cli.main import cli
from houston.core.errors import UsageError
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.attempt_records import UsageRecord
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server import listing
from houston.server.launcher import ServerHandle, start
from houston.views.costs import Spend, group_spend, parse_since, spend_of
from houston.views.explain import end_reason
from houston.views.produced import render_markdown

DONE = {"state": "COMPLETED", "usage": {"tokens": 5210, "cost": 0.2}}


def moved(reason: str, **detail: object) -> list[dict[str, object]]:
    return [{"to": "COMPLETED", "reason": reason, "ts": "2026-12-01T10:00:00Z", "detail": detail}]


def said(
    transitions: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    budget: dict[str, Any],
    cancel_by: str | None = None,
) -> str:
    """The words of the end reason of the completed mission DONE."""
    reason = end_reason(DONE, transitions, tasks, budget, cancel_by)
    assert reason is not None
    text: str = reason["text"]
    return text


def test_end_reasons_are_said_in_words() -> None:
    failed = [{"id": "build", "state": "failed", "error": "exit 3"}]
    assert end_reason({"state": "EXECUTING"}, [], [], None) is None
    assert (
        said(moved("task_failed", task="build", error="exit 3"), failed, {})
        == "Task build failed: exit 3"
    )
    assert (
        said(moved("budget_exceeded", kind="tokens"), [], {"max_tokens": 5000})
        == "Budget exceeded: tokens 5,210 of 5,000"
    )
    assert (
        said(moved("budget_exceeded", task="b"), [], {"max_cost": 0.1})
        == "Budget exceeded: cost $0.2000 of $0.1000 (no room left to start task b)"
    )
    assert said(moved("cancelled", by="http"), [], {}) == "Cancelled from the dashboard"
    assert (
        said(moved("cancelled", by="cancel.request"), [], {}, "cli")
        == "Cancelled from the command line"
    )
    assert (
        said(moved("user_request", by="cli", action="reject"), [], {})
        == "Rejected from the command line"
    )
    two = [{"id": "a", "state": "failed"}, {"id": "b", "state": "failed"}]
    assert said(moved("all_tasks_done"), two, {}) == "2 tasks failed: a, b"
    assert said(moved("all_tasks_done"), [], {}) == "All tasks succeeded"


def test_the_list_query_is_parsed_leniently_and_selects_pages() -> None:
    query = listing.parse_query(
        {
            "q": " Build ",
            "state": "completed,bogus",
            "sort": "x",
            "limit": "9999",
            "offset": "-3",
            "since": "2026-13",
        }
    )
    assert (query.text, query.states, query.sort, query.limit, query.offset, query.since) == (
        "build",
        ("COMPLETED",),
        "newest",
        listing.MAX_LIMIT,
        0,
        "",
    )
    rows = [
        {
            "id": f"2026-{i}",
            "state": "COMPLETED",
            "search": f"m{i}",
            "outcome": "failed",
            "packages": ["p"],
            "created": f"2026-12-0{i}T00:00:00Z",
            "cost": float(i),
            "duration": 1.0,
        }
        for i in range(1, 8)
    ]
    page, total = listing.select(rows, listing.Query(sort="cost", limit=2, offset=1))
    assert total == 7 and [r["id"] for r in page] == ["2026-6", "2026-5"]
    page, total = listing.select(rows, listing.Query(since="2026-12-03", until="2026-12-04"))
    assert total == 2
    assert listing.select(rows, listing.Query(package="q"))[1] == 0


def test_the_index_rereads_a_mission_only_when_its_status_changes(home: Home) -> None:
    ids = make_missions(home, 60)
    index = listing.MissionIndex(MissionStore(home))
    rows, total = index.query(listing.Query(text="nightly", limit=100))
    assert total == 30
    rows, total = index.query(listing.Query(package="beta", limit=100))
    assert total == 20 and {r["packages"][0] for r in rows} == {"beta"}
    store = MissionStore(home)
    ref = store.locate(ids[29])  # number 30... is COMPLETED; the engine updates EXECUTING ones
    running = next(store.locate(i) for i in ids if store.locate(i).state.value == "EXECUTING")
    status = fsio.read_json(running.path / "status.json")
    fsio.write_json_atomic(running.path / "status.json", {**status, "name": "renamed thing"})
    rows, total = index.query(listing.Query(text="renamed"))
    assert total == 1 and rows[0]["id"] == running.id
    # A completed mission retried and completed again: moves change COMPLETED's folder.
    assert ref.state.value == "COMPLETED"
    again = store.move(ref.id, MissionState.COMPLETED, MissionState.COMMITTED, Reason.USER_REQUEST)
    status = fsio.read_json(again.path / "status.json")
    fsio.write_json_atomic(again.path / "status.json", {**status, "name": "second run"})
    store.move(ref.id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    store.move(ref.id, MissionState.EXECUTING, MissionState.COMPLETED, Reason.ALL_TASKS_DONE)
    rows, total = index.query(listing.Query(text="second run", states=("COMPLETED",)))
    assert total == 1 and rows[0]["outcome"] == "succeeded"


QUERIES = [
    listing.Query(),
    listing.Query(text="nightly", limit=100),
    listing.Query(text="renamed"),
    listing.Query(text="second run"),
    listing.Query(states=("EXECUTING",), sort="name"),
    listing.Query(outcome="failed", package="beta", sort="cost", limit=7, offset=3),
    listing.Query(sort="duration", limit=1000),
    listing.Query(since="2026-11-02"),
]


def answers(index: listing.MissionIndex) -> list[tuple[list[dict[str, object]], int]]:
    # "packages" appears on rows once a package filter has run: compare without it.
    return [
        ([{k: v for k, v in r.items() if k != "packages"} for r in rows], total)
        for rows, total in (index.query(q) for q in QUERIES)
    ]


def test_the_index_file_of_the_last_start_never_changes_an_answer(home: Home) -> None:
    ids = make_missions(home, 60)
    cache = home.mission_index
    first = listing.MissionIndex(MissionStore(home), cache=cache)
    first.warm()
    assert first.query(listing.Query(package="beta"))[1] == 20  # packages go in the file too
    assert first.save() and cache.is_file()
    # While no server runs: one mission renamed, one retried and renamed, one removed by gc,
    # one new; the folders' mtimes and each status.json's own tell the next start.
    store = MissionStore(home)
    running = next(store.locate(i) for i in ids if store.locate(i).state.value == "EXECUTING")
    status = fsio.read_json(running.path / "status.json")
    fsio.write_json_atomic(running.path / "status.json", {**status, "name": "renamed thing"})
    again = store.move(ids[29], MissionState.COMPLETED, MissionState.COMMITTED, Reason.USER_REQUEST)
    status = fsio.read_json(again.path / "status.json")
    fsio.write_json_atomic(again.path / "status.json", {**status, "name": "second run"})
    store.move(ids[29], MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    store.move(ids[29], MissionState.EXECUTING, MissionState.COMPLETED, Reason.ALL_TASKS_DONE)
    shutil.rmtree(store.locate(ids[10]).path)
    make_mission(home, 61)
    truth = answers(listing.MissionIndex(MissionStore(home)))  # no file: read from scratch
    assert truth[2][1] == 1 and truth[3][1] == 1 and truth[0][1] == 60
    assert answers(listing.MissionIndex(MissionStore(home), cache=cache)) == truth
    # Nothing changed since: COMPLETED's rows come from the file, and pages are read whole.
    warmed = listing.MissionIndex(MissionStore(home), cache=cache)
    warmed.warm()
    assert answers(listing.MissionIndex(MissionStore(home), cache=cache)) == truth
    for bad in (
        b"",
        b"{",
        b'{"version": 1}',
        cache.read_bytes()[:-40] + b"]]}",
        cache.read_bytes().replace(b'"COMPLETED"', b"7"),
    ):
        cache.write_bytes(bad)
        assert answers(listing.MissionIndex(MissionStore(home), cache=cache)) == truth


@pytest.mark.process
def test_the_server_writes_its_index_file_and_reads_it_at_the_next_start(home: Home) -> None:
    ids = make_missions(home, 50)  # number 50 is EXECUTING
    cache = home.mission_index
    handle = start(home, port=0)
    try:
        deadline = time.monotonic() + 30
        while not cache.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.is_file()
    finally:
        handle.stop()
    store = MissionStore(home)
    running = next(store.locate(i) for i in ids if store.locate(i).state.value == "EXECUTING")
    status = fsio.read_json(running.path / "status.json")
    fsio.write_json_atomic(running.path / "status.json", {**status, "name": "renamed thing"})
    handle = start(home, port=0)
    try:
        got = httpx.get(
            f"{handle.base_url}/api/missions?q=renamed&sort=name",
            headers={"Authorization": f"Bearer {handle.token}"},
        ).json()
    finally:
        handle.stop()
    row, now = got["missions"][0], fsio.read_json(running.path / "status.json")
    assert got["total"] == 1 and row["name"] == "renamed thing"
    assert {k: row[k] for k in now} == now  # the whole status, not the file's slim row


def test_spend_is_grouped_and_houston_costs_prints_the_same(home: Home) -> None:
    records = [
        Spend("m1", "a/x", "g", 1, 2, 3, 0.5),
        Spend("m2", "a/y", "g", 0, 0, 10, 1.0),
        Spend("m2", "b/z", "q", 0, 0, 1, 0.0),
    ]
    rows = group_spend(records, "package")
    assert [(r["package"], r["missions"], r["tokens"], r["cost"]) for r in rows] == [
        ("a", 2, 13, 1.5),
        ("b", 1, 1, 0.0),
    ]
    usage = spend_of(
        "m",
        "a/x",
        UsageRecord(30, 0.1),
        {"model": "gemma", "usage": {"prompt_tokens": 20, "completion_tokens": 10}},
    )
    assert (usage.model, usage.input_tokens, usage.output_tokens) == ("gemma", 20, 10)
    make_missions(home, 6, spend=True)
    runner = CliRunner()
    answer = runner.invoke(cli, ["--home", str(home.root), "costs", "--by", "agent", "--json"])
    assert answer.exit_code == 0, answer.output
    table = json.loads(answer.output)
    assert table["total"]["tokens"] == 2100 and table["total"]["attempts"] == 6
    assert {r["agent"] for r in table["rows"]} == {"alpha/worker", "beta/worker", "gamma/worker"}
    text = runner.invoke(cli, ["--home", str(home.root), "costs", "--by", "model"]).output
    assert text.splitlines()[0].split()[:3] == ["model", "missions", "attempts"]
    assert "gemma-3-270m" in text and "total" in text
    bad = runner.invoke(cli, ["--home", str(home.root), "costs", "--since", "soon"])
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2  # main() maps


def test_since_takes_today_an_age_or_a_date() -> None:
    now = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
    assert parse_since("today", now) == datetime(2026, 12, 6, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
    assert parse_since("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since(None, now) is None
    with pytest.raises(UsageError):
        parse_since("2026-02-30", now)


def test_markdown_is_rendered_without_html_or_images() -> None:
    html = render_markdown(
        "# T\n\n<script>x()</script>\n\n![i](http://e/x.png)\n\n"
        "[a](javascript:alert(1)) [b](https://example.org)"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "javascript:" not in html.replace("[a](javascript:", "")
    assert '<a href="https://example.org">b</a>' in html


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def test_outputs_never_leave_the_outputs_folder(server: ServerHandle) -> None:
    ids = make_missions(server.home, 1)
    folder = MissionStore(server.home).locate(ids[0]).path
    (folder / "outputs").mkdir()
    (folder / "outputs" / "r.md").write_text("# hi")
    (folder / "secret.txt").write_text("no")
    (folder / "outputs" / "link.md").symlink_to(folder / "secret.txt")
    headers = {"Authorization": f"Bearer {server.token}"}
    base = f"{server.base_url}/api/missions/{ids[0]}/outputs"
    with httpx.Client(headers=headers) as client:
        listed = client.get(base).json()["files"]
        assert [f["path"] for f in listed] == ["r.md"]  # the symlink is not listed
        got = client.get(f"{base}/r.md")
        assert got.text == "# hi" and "attachment" in got.headers["content-disposition"]
        assert client.get(f"{base}/r.md?render=1").json()["html"] == "<h1>hi</h1>\n"
        assert client.get(f"{base}/link.md").status_code == 404
        assert client.get(f"{base}/..%2Fsecret.txt").status_code in (400, 404)
        assert client.get(f"{base}/.hidden").status_code == 400


def test_starting_a_workflow_needs_the_token_and_a_real_workflow(server: ServerHandle) -> None:
    url = f"{server.base_url}/api/runs"
    body = {"workflow": "nothing/here", "params": {}}
    assert httpx.post(url, json=body).status_code in (401, 403)
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {server.token}"})
    assert answer.status_code == 404 and "not installed" in answer.json()["error"]
    bad = httpx.post(url, content=b"{", headers={"Authorization": f"Bearer {server.token}"})
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
