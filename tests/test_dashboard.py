"""The dashboard in a real Chromium (Playwright): the live mission list, approve button, log
tail, resource sparklines, and recovery after a server restart.

The engine's part is played by the test: it moves missions through the store and appends
the events an engine appends, exactly as files on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import chromium_page

from houston.actions import submit
from houston.core.lifecycle import MissionState, Reason
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

ARTIFACTS = Path(os.environ.get("HOUSTON_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))
GATED = (
    b"name: nightly report\ngate: approve\n"
    b"budget: {max_tokens: 5000, max_cost: 1.0, max_concurrency: 2}\n"
    b"tasks:\n  - id: fetch\n    agent: core/shell\n  - id: summarize\n    agent: core/shell\n"
    b"    needs: [fetch]\n"
)
WAIT_MS = 10_000

pytestmark = [
    pytest.mark.browser,
]


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page(1280, 900) as opened:
        yield opened


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def set_task(path: Path, task: str, state: str, attempt: int, worker: int | None) -> None:
    folder = path / "tasks" / task
    (folder / "attempts" / str(max(attempt, 1))).mkdir(parents=True, exist_ok=True)
    fsio.write_json_atomic(folder / "spec.json", {"id": task, "agent": "core/shell"})
    if state == "running":  # as a worker holds it: the lock names the attempt and slot
        (folder / "lock").mkdir(exist_ok=True)
        fsio.write_json_atomic(
            folder / "lock" / "owner.json",
            {
                "pid": os.getpid(),
                "nonce": "n",
                "attempt": attempt,
                "slot": worker,
                "since": "2026-01-01T00:00:00Z",
            },
        )
        return
    fsio.write_json_atomic(
        folder / "state.json",
        {
            "state": state,
            "attempt": attempt,
            "updated": "2026-01-01T00:00:00Z",
            "error": None,
            "worker": worker,
        },
    )


def test_a_mission_moves_live_and_is_approved_with_the_button(
    page: Any, server: ServerHandle
) -> None:
    from playwright.sync_api import expect

    store, log = MissionStore(server.home), EventLog(server.home.events)
    mission = submit(store, GATED, "mission.yaml").id
    page.goto(server.url)
    card = page.locator(f'.card[data-id="{mission}"]')
    expect(card.locator(".state")).to_have_text("planning", timeout=WAIT_MS)
    expect(page.locator("#count-PLANNING")).to_have_text("planning 1")
    expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)

    card.click()
    expect(page.locator("#mission")).to_be_visible()
    page.locator("#btn-approve").focus()
    page.keyboard.press("Enter")  # keyboard reachable
    expect(card.locator(".state")).to_have_text("committed", timeout=WAIT_MS)
    assert store.locate(mission).state is MissionState.COMMITTED

    ref = store.move(mission, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    log.append("mission.state", mission=mission, data={"state": "EXECUTING"})
    expect(card.locator(".state")).to_have_text("executing", timeout=WAIT_MS)
    expect(page.locator("#count-EXECUTING")).to_have_text("executing 1")

    set_task(ref.path, "fetch", "running", 1, 1)
    log.append("task.state", mission=mission, task="fetch", attempt=1, data={"state": "running"})
    expect(page.locator('tr[data-task="fetch"] td.s-running')).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".slot[data-busy=true]")).to_contain_text("fetch")

    for i in range(3):
        log.append(
            "attempt.log",
            mission=mission,
            task="fetch",
            attempt=1,
            data={"stream": "stdout", "line": f"fetched page {i}"},
        )
        log.append(
            "resource",
            mission=mission,
            task="fetch",
            attempt=1,
            data={"cpu": 20.0 + 30 * i, "rss": (40 + 5 * i) * 1048576},
        )
        expect(page.locator("#log")).to_contain_text(f"fetched page {i}", timeout=WAIT_MS)
    cpu_now = page.locator('.series[data-series="fetch#1"] .cpu-now')
    expect(cpu_now).to_have_text("80 %", timeout=WAIT_MS)
    shot(page, "executing")


def test_the_page_recovers_after_a_server_restart(page: Any, home: Home) -> None:
    from playwright.sync_api import expect

    store, log = MissionStore(home), EventLog(home.events)
    mission = submit(store, GATED, "mission.yaml", approve=True).id
    handle = start(home, port=0)
    try:
        page.goto(handle.url)
        card = page.locator(f'.card[data-id="{mission}"]')
        expect(card.locator(".state")).to_have_text("committed", timeout=WAIT_MS)
        card.click()
        expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
        log.append("attempt.log", mission=mission, task="fetch", data={"line": "before"})
        expect(page.locator("#log")).to_contain_text("before", timeout=WAIT_MS)
        port = handle.port
        handle.stop()
        expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=WAIT_MS)
        # While the server is down the engine goes on: these must not be lost.
        log.append("attempt.log", mission=mission, task="fetch", data={"line": "while down"})
        store.move(mission, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
        log.append("mission.state", mission=mission, data={"state": "EXECUTING"})
        handle = start(home, port=port)
        expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
        expect(page.locator("#log")).to_contain_text("while down", timeout=WAIT_MS)
        expect(card.locator(".state")).to_have_text("executing", timeout=WAIT_MS)
        log.append("attempt.log", mission=mission, task="fetch", data={"line": "after"})
        expect(page.locator("#log")).to_contain_text("after", timeout=WAIT_MS)
        assert page.locator("#log").inner_text().count("while down") == 1  # no duplicate
        shot(page, "recovered")
    finally:
        handle.stop()


ENGINE_MISSION = b"""name: live engine
gate: approve
tasks:
  - id: count
    agent: core/shell
    inputs:
      command: 'for i in 1 2 3 4; do echo "tick $i"; sleep 0.3; done'
  - id: after
    agent: core/shell
    needs: [count]
    inputs:
      command: 'echo done'
  - id: slow
    agent: core/shell
    inputs:
      command: 'sleep 3'
"""


@pytest.mark.process
def test_a_real_engine_runs_an_approved_mission_live(page: Any, home: Home) -> None:
    """`houston serve` (engine + dashboard): approve with the button, watch it finish."""
    import subprocess
    import sys

    from playwright.sync_api import expect

    mission = submit(MissionStore(home), ENGINE_MISSION, "mission.yaml").id
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(home.root),
        "serve",
        "--port",
        "0",
        "--workers",
        "2",
    ]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = ""
            for _ in range(20):  # bounded: the URL is among the first lines
                line = proc.stdout.readline()
                if line.startswith("dashboard: "):
                    url = line.split(" ", 1)[1].strip()
                    break
            assert url.startswith("http://127.0.0.1:")
            page.goto(url)
            card = page.locator(f'.card[data-id="{mission}"]')
            expect(card.locator(".state")).to_have_text("planning", timeout=WAIT_MS)
            card.click()
            page.locator("#btn-approve").click()
            expect(page.locator("#log")).to_contain_text("tick 2", timeout=WAIT_MS)
            shot(page, "engine-running")
            # A running task shows its elapsed time and a running bar on its worker's lane.
            expect(page.locator('tr[data-task="slow"] td.elapsed')).to_contain_text(
                "so far", timeout=WAIT_MS
            )
            expect(page.locator('#timeline a[data-task="slow"] rect.r-running')).to_have_count(1)
            # The card of the open mission follows its tasks while it runs, and the
            # wall-time gauge moves with the clock.
            expect(card).to_contain_text("executing", timeout=WAIT_MS)
            expect(card).to_contain_text("2/3 tasks", timeout=WAIT_MS)
            page.wait_for_function(
                """() => [...document.querySelectorAll('#gauges .gauge')].some((g) =>
                     g.textContent.startsWith('Wall time') && parseFloat(
                       g.querySelector('.muted').textContent) >= 1.5)""",
                timeout=WAIT_MS,
            )
            expect(card).to_contain_text("succeeded", timeout=20_000)
            expect(page.locator("#log")).to_contain_text("tick 4")
            expect(page.locator('tr[data-task="after"] td.s-succeeded')).to_be_visible(
                timeout=WAIT_MS
            )
            shot(page, "engine-done")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_keyboard_only_and_both_colour_schemes(page: Any, server: ServerHandle) -> None:
    from playwright.sync_api import expect

    mission = submit(MissionStore(server.home), GATED, "mission.yaml").id
    backgrounds = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(server.url)
        expect(page.locator(f'.card[data-id="{mission}"]')).to_be_visible(timeout=WAIT_MS)
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert backgrounds["light"] != backgrounds["dark"]
    for _ in range(30):  # header links and filters first, then the mission cards
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.id") == mission:
            break
    assert page.evaluate("document.activeElement.dataset.id") == mission
    page.keyboard.press("Enter")
    expect(page.locator("#mission")).to_be_visible(timeout=WAIT_MS)
    for _ in range(10):  # on past the pager into the mission's actions: approve comes first
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "btn-approve":
            break
    focused = page.evaluate("document.activeElement.id")
    assert focused == "btn-approve"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus ring
    page.set_viewport_size({"width": 800, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 800  # no sideways scroll
