"""core-workflow/plan-approve-execute end to end: an llm planner's tasks wait behind a
human gate, then fan out, and a collector reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.engine import engine_thread, houston_process, outcome, wait_for
from helpers.packages import cli
from helpers.scripted_llm import ScriptedLLM, planner_answer, text

from houston import actions
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.pkg.workflows import render_workflow
from houston.views.tasks import read_tasks

pytestmark = pytest.mark.process


def states(home: Home, mission_id: str) -> dict[str, str]:
    path = MissionStore(home).locate(mission_id).path
    return {t["id"]: t["state"] for t in read_tasks(path)}


def answer(body: dict[str, Any], number: int) -> dict[str, Any]:
    if body["messages"][0]["content"].startswith("You are a planner"):
        return text(json.dumps(planner_answer(2)))
    return text(json.dumps({"done": True, "summary": "did it"}))


def test_the_plan_waits_for_a_human_then_fans_out_and_reports(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("--home", str(home.root), "package", "install", "core-workflow").code == 0
    data, label = render_workflow(home, "core-workflow/plan-approve-execute", {"goal": "a FAQ"})
    ref = actions.submit(MissionStore(home), data, label)
    with ScriptedLLM(answer) as llm:
        monkeypatch.setenv("HOUSTON_LLM_BASE_URL", llm.url)
        with engine_thread(home):
            wait_for(lambda: states(home, ref.id).get("approve") == "waiting", what="gate")
            assert states(home, ref.id)["step-1"] == "pending"  # nothing ran before approval
            assert len(llm.requests) == 1
            proc = houston_process(home, "approve", ref.id, "approve")
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            wait_for(
                lambda: outcome(home, ref) == ("COMPLETED", "succeeded"),
                timeout=30,
                what="the plan ran",
            )
    assert len(llm.requests) == 3
    outputs = MissionStore(home).locate(ref.id).path / "outputs"
    assert "# Approved plan: a FAQ" in (outputs / "plan.md").read_text()
    assert "2 of 2 steps done." in (outputs / "report.md").read_text()
