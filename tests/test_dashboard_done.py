"""Issue 13's "done when", in Chromium, on missions `houston run` really ran: the
code-health mission (its report read on the page), a failing one, a budget-stopped one
whose agent said its model, and an llm mission against a scripted loopback server. The
page says what ran when (every attempt on a named worker lane), why each failure happened,
and what each cost by model with tokens in and out, as `houston costs` prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import chromium_page
from helpers.engine import REPO
from helpers.scripted_llm import ScriptedLLM, text

from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.server.launcher import ServerHandle, start

pytestmark = [pytest.mark.browser, pytest.mark.process]
WAIT_MS = 20_000
# Screenshots go to artifacts/ (or $HOUSTON_ARTIFACTS); docs/ holds copies taken by hand.
ARTIFACTS = Path(os.environ.get("HOUSTON_ARTIFACTS", REPO / "artifacts"))

FAILING = """name: flaky-build
tasks:
  - id: compile
    agent: core/shell
    retries: 1
    inputs:
      command: 'echo compiling; echo "error: missing header foo.h" >&2; exit 3'
"""
SPENDY = """name: spendy
budget: {max_tokens: 5000}
tasks:
  - id: think
    agent: core/shell
    inputs:
      command: |
        cat <<'EOF'
        {"usage": {"cost": 0.12, "model": "big-model-70b", "input_tokens": 5000,
                   "output_tokens": 1200}}
        EOF
  - {id: after, agent: core/shell, needs: [think], inputs: {command: 'echo never'}}
"""
CHAT = """name: support-reply
tasks:
  - {id: reply, agent: support/reply, inputs: {message: 'my invoice is wrong'}}
"""
REPLY_USAGE = {"prompt_tokens": 310, "completion_tokens": 42, "total_tokens": 352}


def houston_run(home: Home, mission: Path, cwd: Path) -> None:
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
    subprocess.run(argv, cwd=cwd, capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("done")
    home = Home(root / ".houston").ensure()
    project = root / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "good.py").write_text("def f():\n    # TODO: more\n    return 1\n")
    (project / "bad.py").write_text("def broken(:\n")
    houston_run(home, REPO / "missions" / "code-health.yaml", project)
    for name, spec in (("failing", FAILING), ("spendy", SPENDY)):
        (root / f"{name}.yaml").write_text(spec)
        houston_run(home, root / f"{name}.yaml", root)
    with ScriptedLLM(lambda body, number: text("Dear customer, fixed.", REPLY_USAGE)) as llm:
        agents = home.packages / "support" / "1.0.0" / "agents"
        agents.mkdir(parents=True)
        (agents.parent / "package.yaml").write_text("name: support\nversion: 1.0.0\n")
        (agents / "reply.md").write_text(
            f"---\nname: reply\ndescription: replies\nllm: {{base_url: '{llm.url}', "
            "model: qwen2.5-7b-instruct}\n---\nReply politely.\n"
        )
        (root / "chat.yaml").write_text(CHAT)
        houston_run(home, root / "chat.yaml", root)
    ids = {i.split("-", 2)[2].rsplit("-", 1)[0]: i for i in MissionStore(home).all_ids()}
    assert set(ids) == {"code-health", "flaky-build", "spendy", "support-reply"}, ids
    return {"home": home, **ids}


@pytest.fixture(scope="module")
def server(ran: dict[str, Any]) -> Iterator[ServerHandle]:
    handle = start(ran["home"], port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def page(server: ServerHandle) -> Iterator[Any]:
    with chromium_page(1400, 1000) as opened:
        opened.goto(server.url)  # the token becomes a cookie
        opened.locator("#conn").filter(has_text="live").wait_for(timeout=WAIT_MS)
        yield opened


def lanes(page: Any) -> list[str]:
    labels: list[str] = page.locator("#timeline .lane-label").evaluate_all(
        "nodes => nodes.map((n) => n.textContent)"
    )
    return labels


def test_code_health_shows_what_ran_when_and_its_report(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.base_url}/#/m/{ran['code-health']}")
    expect(page.locator("#m-end")).to_contain_text("All tasks succeeded", timeout=WAIT_MS)
    # list-files, one analyze per file, report: every attempt a bar on a named lane
    expect(page.locator("#timeline a rect")).to_have_count(4)
    assert "+1 init" in lanes(page) and "?" not in lanes(page)
    report = page.locator("#output-view")  # the report is shown without a click
    expect(report.locator("h1")).to_contain_text("Code health of", timeout=WAIT_MS)
    expect(report).to_contain_text("bad.py")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-code-health.png"), full_page=True)


def test_a_failure_says_why_and_its_stderr(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.base_url}/#/m/{ran['flaky-build']}")
    expect(page.locator("#m-end")).to_contain_text(
        "Task compile failed: /bin/sh exited with code 3", timeout=WAIT_MS
    )
    failure = page.locator('.failure[data-task="compile"]')
    expect(failure.locator(".stderr")).to_have_text("error: missing header foo.h")
    expect(page.locator('#timeline a[data-task="compile"] rect')).to_have_count(2)


def test_a_budget_stop_shows_its_figure_lane_and_model(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.base_url}/#/m/{ran['spendy']}")
    expect(page.locator("#m-end")).to_contain_text(
        "Budget exceeded: tokens 6,200 of 5,000", timeout=WAIT_MS
    )
    # The stopped attempt's worker was killed with it: the lane still says which it was.
    expect(page.locator('#timeline a[data-task="think"] rect')).to_have_count(1)
    assert lanes(page) and all(lane.startswith("worker ") for lane in lanes(page))
    spend = page.locator('tr[data-task="think"] td').nth(4)
    expect(spend).to_have_text("6,200 tok (5,000 in · 1,200 out) · $0.1200 · big-model-70b")


def test_the_cost_panel_shows_each_model_with_tokens_in_and_out(
    page: Any, server: ServerHandle, ran: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    argv = [
        sys.executable,
        "-m",
        "houston",
        "--home",
        str(ran["home"].root),
        "costs",
        "--by",
        "model",
        "--json",
    ]
    printed = json.loads(
        subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    )
    by_model = {
        r["model"]: (r["input_tokens"], r["output_tokens"], r["cost"]) for r in printed["rows"]
    }
    assert by_model == {"big-model-70b": (5000, 1200, 0.12), "qwen2.5-7b-instruct": (310, 42, 0.0)}
    page.goto(f"{server.base_url}/#/costs")
    page.select_option("#cost-by", "model")
    rows = page.locator("#cost-table tbody tr")
    expect(rows).to_have_count(3, timeout=WAIT_MS)  # two models and the total
    expect(rows.nth(0)).to_contain_text("big-model-70b")
    expect(rows.nth(0)).to_contain_text("5,000")
    expect(rows.nth(0)).to_contain_text("1,200")
    expect(rows.nth(1)).to_contain_text("qwen2.5-7b-instruct")
    expect(rows.nth(1)).to_contain_text("310")
    expect(rows.nth(1)).to_contain_text("42")
