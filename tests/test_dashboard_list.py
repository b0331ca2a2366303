"""The mission list at scale, the cost panel, starting a workflow and the small things,
in a real Chromium (Playwright) on missions written into the home as an engine leaves them.
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
from helpers.dashboard import make_missions

from houston.actions import submit
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

# Screenshots go to artifacts/ (or $HOUSTON_ARTIFACTS); docs/ holds copies taken by hand
# from there, so a test run never changes tracked files.
ARTIFACTS = Path(os.environ.get("HOUSTON_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))
WAIT_MS = 10_000
DASH = "\u2013"  # the pager writes ranges with an en dash
GATED = b"name: nightly gate\ngate: approve\ntasks:\n  - id: a\n    agent: core/shell\n"

pytestmark = [
    pytest.mark.browser,
]


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page(1400, 1000) as opened:
        yield opened


@pytest.fixture
def server(home: Home) -> Iterator[ServerHandle]:
    handle = start(home, port=0)
    yield handle
    handle.stop()


def open_view(page: Any, server: ServerHandle, fragment: str = "") -> None:
    page.goto(server.url)  # the token becomes a cookie
    page.locator("#conn").filter(has_text="live").wait_for(timeout=WAIT_MS)
    if fragment:
        page.goto(f"{server.base_url}/{fragment}")


def test_search_filter_sort_and_pages_are_done_by_the_server_and_kept_in_the_address(
    page: Any, server: ServerHandle
) -> None:
    from playwright.sync_api import expect

    make_missions(server.home, 600)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/missions?" in r.url else None)
    open_view(page, server)
    info = page.locator("#page-info")
    expect(info).to_have_text(f"1{DASH}50 of 600", timeout=WAIT_MS)
    expect(page.locator(".card")).to_have_count(50)
    running = page.locator(".card").first  # newest first: number 600 still runs
    expect(running).to_contain_text("build 600")
    expect(running.locator("code")).to_have_text("0600")  # short id
    expect(running).to_contain_text("so far")  # a running mission's elapsed time
    done = page.locator(".card").nth(1)
    expect(done).to_contain_text("nightly report 599")
    expect(done).to_contain_text("ago")  # age
    expect(done).to_contain_text("10m00s")  # duration: 599 % 600 + 1 seconds

    page.fill("#f-q", "nightly")
    expect(info).to_have_text(f"1{DASH}50 of 300", timeout=WAIT_MS)
    page.select_option("#f-outcome", "failed")
    page.fill("#f-package", "gamma")
    # nightly = odd n; failed = n % 3 == 1; gamma = n % 3 == 2: nothing is all three
    expect(info).to_have_text("0 missions", timeout=WAIT_MS)
    page.fill("#f-package", "beta")  # n % 3 == 1, odd, not a multiple of 50
    expect(info).to_have_text(f"1{DASH}50 of 100", timeout=WAIT_MS)
    page.select_option("#f-sort", "oldest")
    expect(page.locator(".card").first).to_contain_text("nightly report 1")
    page.locator("#page-next").click()
    expect(info).to_have_text(f"51{DASH}100 of 100", timeout=WAIT_MS)
    expect(page.locator(".card").first).to_contain_text("nightly report 301")
    assert any("q=nightly" in u and "outcome=failed" in u and "offset=50" in u for u in asked)

    page.reload()  # the address kept the whole query
    expect(info).to_have_text(f"51{DASH}100 of 100", timeout=WAIT_MS)
    assert page.locator("#f-q").input_value() == "nightly"
    assert page.locator("#f-sort").input_value() == "oldest"

    page.goto(f"{server.base_url}/#/?since=2026-11-02&until=2026-11-02")  # one day: 24 hours
    expect(info).to_have_text(f"1{DASH}24 of 24", timeout=WAIT_MS)
    page.goto(f"{server.base_url}/#/?q=0123")  # by id
    expect(info).to_have_text(f"1{DASH}1 of 1", timeout=WAIT_MS)
    docs_shot(page, "dashboard-list")


def docs_shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_cost_panel_shows_what_houston_costs_prints(page: Any, server: ServerHandle) -> None:
    from playwright.sync_api import expect

    make_missions(server.home, 12, spend=True)
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(server.home.root),
        "costs",
        "--by",
        "model",
    ]
    printed = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    open_view(page, server, "#/costs")
    page.select_option("#cost-by", "model")
    rows = page.locator("#cost-table tbody tr")
    expect(rows).to_have_count(3, timeout=WAIT_MS)  # two models and the total
    # n = 1..12: qwen (odd n) spent 0.036, gemma (even n) 0.042; tokens 100 n each
    expect(rows.nth(0)).to_contain_text("gemma-3-270m")
    expect(rows.nth(0)).to_contain_text("$0.0420")
    expect(rows.nth(0)).to_contain_text("2,520")  # tokens in: 60 * (2+4+...+12)
    expect(rows.nth(2)).to_contain_text("7,800")  # tokens: 100 * 78
    for line in printed.splitlines()[1:]:
        model = line.split()[0]
        assert model in ("gemma-3-270m", "qwen2.5-7b", "total")
        assert page.locator("#cost-table").inner_text().count(line.split()[-1]) >= 1
    page.select_option("#cost-since", "today")  # these missions are from November
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    docs_shot(page, "dashboard-costs")


WORKFLOW_PACKAGE = {
    "package.yaml": "name: greeter\nversion: 1.0.0\ndescription: Says hello.\n"
    "author: test\nlicense: MIT\nengines: {houston: '>=0.1'}\n"
    "agents: [agents/hello.md]\nworkflows: [workflows/greet.md]\n",
    "agents/hello.md": "---\nname: hello\ndescription: Prints hello.\nrunner: command\n"
    "command: [echo, hello]\n---\nSay hello.\n",
    "workflows/greet.md": "---\nname: 'greet {{ who }}'\nparameters:\n  - name: who\n"
    "    description: whom to greet\n    required: true\n"
    "tasks:\n  - id: hello\n    agent: greeter/hello\n---\nGreets.\n",
}


def test_a_workflow_is_started_from_the_page_with_its_parameters(
    page: Any, server: ServerHandle, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    source = tmp_path / "greeter"
    for name, text in WORKFLOW_PACKAGE.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(server.home.root),
        "package",
        "install",
        str(source),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    open_view(page, server, "#/run")
    package = page.locator('.package[data-package="greeter"]')
    package.locator("summary").click()
    expect(package).to_contain_text("Agents: hello")
    package.locator('[data-workflow="greeter/greet"]').click()
    page.fill('#run-params input[name="who"]', "world")
    page.locator("#run-submit").click()
    expect(page.locator("#m-name")).to_have_text("greet world", timeout=WAIT_MS)
    expect(page.locator("#m-state")).to_have_text("COMMITTED")
    assert [m for m in MissionStore(server.home).all_ids() if "greet-world" in m]


def test_cancel_and_reject_ask_first_and_say_who(page: Any, server: ServerHandle) -> None:
    from playwright.sync_api import expect

    store = MissionStore(server.home)
    one = submit(store, GATED, "mission.yaml").id
    two = submit(store, GATED, "mission.yaml").id
    open_view(page, server, f"#/m/{one}")
    expect(page.locator("#btn-retry")).to_be_hidden(timeout=WAIT_MS)  # not for PLANNING
    page.locator("#btn-cancel").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.keyboard.press("Escape")  # keeps it
    expect(page.locator("#confirm")).to_be_hidden()
    assert store.locate(one).state.value == "PLANNING"
    page.locator("#btn-cancel").click()
    page.locator("#confirm-yes").click()
    expect(page.locator("#m-end")).to_contain_text("Cancelled from the dashboard", timeout=WAIT_MS)
    page.goto(f"{server.base_url}/#/m/{two}")
    page.locator("#btn-reject").click()
    page.locator("#confirm-yes").click()
    expect(page.locator("#m-end")).to_contain_text("Rejected from the dashboard", timeout=WAIT_MS)
    expect(page.locator("#btn-retry")).to_be_enabled()


def test_small_things_errors_offline_favicon_narrow_screens(page: Any, home: Home) -> None:
    from playwright.sync_api import expect

    mission = submit(MissionStore(home), GATED, "mission.yaml").id
    handle = start(home, port=0)
    try:
        open_view(page, handle, "#/m/20260101-000000-nothing-here-0000")
        expect(page.locator("#m-error")).to_contain_text("nothing-here", timeout=WAIT_MS)
        page.locator(f'.card[data-id="{mission}"]').click()  # a new selection clears it
        expect(page.locator("#m-name")).to_have_text("nightly gate", timeout=WAIT_MS)
        expect(page.locator("#m-error")).to_be_hidden()
        icon = page.request.get(f"{handle.base_url}/static/favicon.svg")
        assert icon.ok and "svg" in icon.headers["content-type"]
        assert page.locator('link[rel="icon"]').get_attribute("href") == "/static/favicon.svg"
        page.set_viewport_size({"width": 390, "height": 844})
        rendered = {
            f"#/m/{mission}": "#timeline p",
            "#/": ".card",
            "#/costs": "#cost-table tr",
            "#/run": "#packages > *",
        }
        for fragment, shown in rendered.items():
            page.goto(f"{handle.base_url}/{fragment}")
            page.locator(shown).first.wait_for(timeout=WAIT_MS)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, fragment
        page.goto(f"{handle.base_url}/#/m/{mission}")
        expect(page.locator("#mission")).not_to_have_class("panel mission offline", timeout=WAIT_MS)
        page.evaluate("H.showError('an error from before the server went away')")
        port = handle.port
        handle.stop()
        expect(page.locator("#mission")).to_have_class("panel mission offline", timeout=WAIT_MS)
        expect(page.locator("#m-error")).to_be_visible()
        handle = start(home, port=port)
        expect(page.locator("#mission")).to_have_class("panel mission", timeout=WAIT_MS)
        expect(page.locator("#m-error")).to_be_hidden()  # stale once reconnected
    finally:
        handle.stop()


TASK_GATE = b"""name: gated deploy
tasks:
  - {id: build, agent: core/shell, inputs: {command: 'echo built'}}
  - {id: ship, agent: core/shell, needs: [build], gate: approve, inputs: {command: 'echo shipped'}}
  - {id: drop, agent: core/shell, needs: [build], gate: approve, inputs: {command: 'echo dropped'}}
"""


def test_a_task_at_its_gate_is_approved_or_rejected_from_the_page(
    page: Any, server: ServerHandle
) -> None:
    from helpers.engine import engine_thread, wait_for
    from playwright.sync_api import expect

    mission = submit(MissionStore(server.home), TASK_GATE, "mission.yaml").id
    with engine_thread(server.home, missions={mission}):
        open_view(page, server, f"#/m/{mission}")
        ship, drop = page.locator('tr[data-task="ship"]'), page.locator('tr[data-task="drop"]')
        expect(ship).to_contain_text("waiting", timeout=WAIT_MS)
        ship.get_by_role("button", name="approve").click()
        expect(ship).to_contain_text("succeeded", timeout=WAIT_MS)
        expect(drop).to_contain_text("waiting")
        drop.get_by_role("button", name="reject").click()
        page.locator("#confirm-yes").click()
        expect(drop).to_contain_text("failed", timeout=WAIT_MS)
        wait_for(
            lambda: MissionStore(server.home).locate(mission).state.value == "COMPLETED",
            what="the mission to complete",
        )
    assert (
        "rejected"
        in (
            server.home.root / "missions" / "COMPLETED" / mission / "tasks" / "drop" / "state.json"
        ).read_text()
    )
