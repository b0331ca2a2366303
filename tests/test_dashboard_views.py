"""The mission views in a real Chromium (Playwright), on missions a real engine ran:
why a mission ended, failed tasks with their stderr, the history, the timeline with its
retries, attempts and logs, resources per attempt, outputs and the blackboard.

Three missions are run once per module by `houston run` (a failing one with a retry, a
budget-stopped one, one that writes a Markdown report); the tests only read them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import chromium_page

from houston.home.blackboard import Blackboard
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

# Screenshots go to artifacts/ (or $HOUSTON_ARTIFACTS); docs/ holds copies taken by hand
# from there, so a test run never changes tracked files.
ARTIFACTS = Path(os.environ.get("HOUSTON_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))
WAIT_MS = 10_000
FAILING = b"""name: flaky build
tasks:
  - id: compile
    agent: core/shell
    retries: 1
    inputs:
      command: 'echo compiling; echo "error: missing header foo.h" >&2; exit 3'
  - id: lint
    agent: core/shell
    inputs:
      command: 'sleep 1.2; echo lint ok'
"""
SPENDY = b"""name: spendy
budget: {max_tokens: 5000}
tasks:
  - id: think
    agent: core/shell
    inputs:
      command: 'echo "{\\"usage\\": {\\"tokens\\": 6200, \\"cost\\": 0.12}}"'
  - id: after
    agent: core/shell
    needs: [think]
    inputs:
      command: 'echo never'
"""
REPORT = b"""name: report
tasks:
  - id: write
    agent: core/shell
    inputs:
      command: |
        out="$HOUSTON_OUTPUTS/report.md"
        printf '# Health report\\n\\n| file | lines |\\n|---|---|\\n| a.py | 12 |\\n\\n' > "$out"
        printf '<script>window.owned = 1</script>\\n\\n' >> "$out"
        printf '![tracker](http://203.0.113.9/pixel.png)\\n' >> "$out"
        echo written
"""

pytestmark = [
    pytest.mark.browser,
]


def run_mission(home: Home, folder: Path, name: str, text: bytes) -> str:
    path = folder / f"{name}.yaml"
    path.write_bytes(text)
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(home.root),
        "run",
        str(path),
        "--no-ui",
        "--workers",
        "2",
    ]
    subprocess.run(argv, capture_output=True, timeout=60, check=False)
    found = [i for i in MissionStore(home).all_ids() if f"-{name}-" in i]
    assert found, f"mission {name} did not complete"
    return found[0]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("views")
    home = Home(folder / ".houston").ensure()
    ids = {
        name: run_mission(home, folder, name, text)
        for name, text in (("flaky-build", FAILING), ("spendy", SPENDY), ("report", REPORT))
    }
    board = Blackboard(MissionStore(home).locate(ids["report"]).path)
    board.decide("use the line count as the size measure")
    board.set_directive("tone", "short sentences")
    return {"home": home, **ids}


@pytest.fixture
def server(ran: dict[str, Any]) -> Iterator[ServerHandle]:
    handle = start(ran["home"], port=0)
    yield handle
    handle.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page(1400, 1000, accept_downloads=True) as opened:
        yield opened


def open_view(page: Any, server: ServerHandle, fragment: str) -> None:
    page.goto(server.url)  # the token becomes a cookie
    page.locator("#conn").filter(has_text="live").wait_for(timeout=WAIT_MS)
    page.goto(f"{server.base_url}/{fragment}")


def docs_shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_failed_mission_says_why_with_stderr_and_history(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    open_view(page, server, f"#/m/{ran['flaky-build']}")
    expect(page.locator("#m-end")).to_contain_text(
        "Task compile failed: /bin/sh exited with code 3", timeout=WAIT_MS
    )
    failure = page.locator('.failure[data-task="compile"]')
    expect(failure).to_contain_text("attempt 2, exit code 3")
    expect(failure.locator(".stderr")).to_have_text("error: missing header foo.h")
    history = page.locator("#transitions li")
    expect(history).to_have_count(4)
    expect(history.nth(3)).to_contain_text("EXECUTING → COMPLETED")
    expect(history.nth(3)).to_contain_text("task_failed")
    expect(page.locator("#btn-retry")).to_be_enabled()  # retry applies to a failed mission
    expect(page.locator("#btn-approve")).to_be_hidden()
    # The timeline: both attempts of compile (the retry) and the cancelled lint, on lanes.
    bars = page.locator('#timeline a[data-task="compile"] rect')
    expect(bars).to_have_count(2)
    assert all("r-failed" in (bars.nth(i).get_attribute("class") or "") for i in range(2))
    lanes = page.locator("#timeline .lane-label").evaluate_all(
        "nodes => nodes.map((n) => n.textContent)"
    )
    assert lanes and all(lane.startswith("worker ") for lane in lanes)
    docs_shot(page, "dashboard-failure")


def test_a_budget_stop_names_the_limit_and_the_figure(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    # The engine recorded the figure when it stopped the mission; the page says that one.
    store = MissionStore(ran["home"])
    assert store.status(store.locate(ran["spendy"]))["budget_stop"] == {
        "scope": "mission",
        "kind": "tokens",
        "limit": 5000.0,
        "spent": 6200.0,
    }
    open_view(page, server, f"#/m/{ran['spendy']}")
    expect(page.locator("#m-end")).to_contain_text(
        "Budget exceeded: tokens 6,200 of 5,000", timeout=WAIT_MS
    )
    expect(page.locator('tr[data-task="after"] td.s-cancelled')).to_be_visible()


def test_a_task_url_shows_its_attempts_and_logs_and_survives_reload_and_back(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    mission = ran["flaky-build"]
    open_view(page, server, f"#/m/{mission}/t/compile")
    rows = page.locator("#attempts tr")
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    expect(rows.nth(0)).to_contain_text("failed: /bin/sh exited with code 3")
    expect(rows.nth(0).locator("td").nth(2)).to_contain_text("worker")
    assert rows.nth(0).locator("td").nth(3).inner_text() != ""  # start time
    assert rows.nth(0).locator("td").nth(4).inner_text() != ""  # end time
    log = page.locator("#log")
    expect(log).to_contain_text("attempt 2 started")
    expect(log.locator(".ln-stderr")).to_have_text("error: missing header foo.h")
    page.select_option("#log-stream", "stdout")  # the toggle hides stderr
    expect(log.locator(".ln-stderr")).to_have_count(0)
    expect(log).to_contain_text("compiling")
    page.select_option("#log-stream", "both")
    rows.nth(0).locator("button").click()  # attempt 1's log stays reachable after a retry
    expect(page.locator("#log-title")).to_contain_text("attempt 1")
    with page.expect_download() as download:
        page.locator("#log-download").click()
    saved = Path(download.value.path()).read_text()
    assert "error: missing header foo.h" in saved and "attempt 1 started" in saved

    page.reload()  # the address keeps the mission and the task
    expect(page.locator('tr.chosen[data-task="compile"]')).to_be_visible(timeout=WAIT_MS)
    page.locator(f'.card[data-id="{ran["spendy"]}"]').click()
    expect(page.locator("#m-name")).to_have_text("spendy", timeout=WAIT_MS)
    page.go_back()
    expect(page.locator("#m-name")).to_have_text("flaky build", timeout=WAIT_MS)
    expect(page.locator("#attempts-task")).to_have_text("compile")


def test_the_whole_log_of_a_completed_mission_can_be_searched(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    open_view(page, server, f"#/m/{ran['flaky-build']}")
    log = page.locator("#log")
    expect(log).to_contain_text("[compile #1] compiling", timeout=WAIT_MS)
    expect(log).to_contain_text("[lint #1 --] started")
    expect(log).to_contain_text(": cancelled")
    page.fill("#log-search", "header")
    expect(log.locator(".ln-stderr")).to_have_count(2)
    expect(log).not_to_contain_text("compiling")
    expect(log).to_contain_text("2 lines match")


def test_outputs_render_markdown_safely_and_the_blackboard_shows(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_view(page, server, f"#/m/{ran['report']}")
    item = page.locator('#outputs li[data-path="report.md"]')
    expect(item).to_be_visible(timeout=WAIT_MS)
    item.locator("button").click()
    view = page.locator("#output-view")
    expect(view.locator("h1")).to_have_text("Health report")
    expect(view.locator("table td").first).to_have_text("a.py")
    expect(view).to_contain_text("<script>")  # shown as text, never run
    assert view.locator("script, img").count() == 0
    assert page.evaluate("window.owned") is None
    assert not [u for u in requests if "203.0.113.9" in u]  # no remote content fetched
    with page.expect_download() as download:
        item.locator("a").click()
    assert Path(download.value.path()).read_text().startswith("# Health report")
    expect(page.locator("#blackboard .decisions li")).to_contain_text("line count")
    expect(page.locator("#blackboard .directives dd")).to_have_text("short sentences")


def test_resources_are_one_series_per_attempt_live_and_after_the_end(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    mission = ran["report"]
    log = EventLog(ran["home"].events)
    for i in range(3):  # two attempts sampled side by side, as the engine samples them
        log.append(
            "resource",
            mission=mission,
            task="write",
            attempt=1,
            data={"cpu": 90.0 + i, "rss": 55 * 1048576},
        )
        log.append(
            "resource",
            mission=mission,
            task="lint",
            attempt=2,
            data={"cpu": 5.0, "rss": 3 * 1048576},
        )
    open_view(page, server, f"#/m/{mission}")
    first = page.locator('.series[data-series="write#1"]')
    expect(first.locator(".cpu-now")).to_have_text("92 %", timeout=WAIT_MS)
    expect(first.locator(".rss-now")).to_have_text("55.0 MiB")
    expect(page.locator('.series[data-series="lint#2"] .cpu-now')).to_have_text("5 %")
    log.append(
        "resource",
        mission=mission,
        task="write",
        attempt=1,
        data={"cpu": 40.0, "rss": 60 * 1048576},
    )
    expect(first.locator(".rss-now")).to_have_text("60.0 MiB", timeout=WAIT_MS)
    log.append(
        "tool.call",
        mission=mission,
        task="write",
        attempt=1,
        data={"tool": "Read", "summary": "notes.md", "outcome": "ok", "duration_ms": 3},
    )
    expect(page.locator("#log .ln-tool")).to_contain_text(
        "Read notes.md → ok (3 ms)", timeout=WAIT_MS
    )
    log.close()


def test_the_mission_view_with_its_timeline_for_the_readme(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    open_view(page, server, f"#/m/{ran['flaky-build']}/t/compile")
    expect(page.locator("#timeline rect")).to_have_count(3, timeout=WAIT_MS)
    docs_shot(page, "dashboard-mission")
    assert (ARTIFACTS / "dashboard-mission.png").stat().st_size > 10_000
