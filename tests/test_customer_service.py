"""The bundled customer-service package end to end against a scripted model: each step
uses the results of the ones before it, and the report in outputs/ shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.packages import cli
from helpers.scripted_llm import ScriptedLLM, text

from houston.agents.catalog import AgentCatalog, bundled_dir
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.pkg.manifest import read_manifest

CLASSIFICATION = {
    "category": "billing",
    "urgency": "high",
    "sentiment": "angry",
    "summary": "The invoice charges the customer twice.",
}


def user_json(body: dict[str, Any]) -> dict[str, Any]:
    """The inputs block of the user message."""
    user = body["messages"][1]["content"]
    data: dict[str, Any] = json.loads(user.split("```json\n")[1].split("\n```")[0])
    return data


def answer(body: dict[str, Any], number: int) -> dict[str, Any]:
    system = body["messages"][0]["content"]
    inputs = user_json(body)
    if system.startswith("You classify one customer support ticket"):
        return text(json.dumps(CLASSIFICATION))
    if system.startswith("You write the first reply"):
        category = inputs["classification"]["category"]
        reply = f"Dear {inputs['customer']}, sorry: we are fixing your {category} problem."
        if "third time" in inputs["ticket"]:
            reply += " Full refund today!"
        return text(
            json.dumps(
                {
                    "category": category,
                    "reply": reply,
                    "next_step": f"{category} team checks the invoice",
                }
            )
        )
    if system.startswith("You decide on escalation"):
        c = inputs["classification"]
        # A model that misses the rule: the report must escalate anyway.
        copied = {key: c[key] for key in ("category", "urgency", "sentiment")}
        return text(
            json.dumps(
                {
                    **copied,
                    "escalate": False,
                    "team": None,
                    "reason": f"a {c['category']} ticket the draft answers "
                    f"({c['urgency']}, {c['sentiment']})",
                }
            )
        )
    if system.startswith("You handle refunds"):
        amount = min(float(inputs["amount"]), 100)
        return text(
            json.dumps(
                {
                    "action": "refund",
                    "amount": amount,
                    "reason": f"{inputs['classification']['category']} error",
                }
            )
        )
    if system.startswith("You plan the follow-up"):
        team = inputs["escalation"]["team"] or "us"
        return text(json.dumps({"send_after": "2d", "message": f"{team} fixed it?"}))
    return {"status": 400, "error": "unexpected agent"}


def test_every_bundled_agent_parses_and_names_what_its_package_declares() -> None:
    for package in sorted(p for p in bundled_dir().iterdir() if (p / "package.yaml").is_file()):
        manifest = read_manifest(package)
        catalog = AgentCatalog(Home(package / ".unused-home"), bundled=bundled_dir())
        for name in manifest.files("agents"):
            agent, _ = catalog.find(f"{package.name}/{name}")
            extra = agent.model_extra or {}
            assert set(agent.patterns or []) <= set(manifest.files("patterns")), name
            assert set(agent.config or []) <= set(manifest.config), name
            assert "model" not in extra


@pytest.mark.process
def test_resolve_ticket_leaves_a_report_that_uses_the_classification(
    home: Home, tmp_path: Path
) -> None:
    assert cli("--home", str(home.root), "package", "install", "customer-service@^1.2").code == 0
    with ScriptedLLM(answer) as llm:
        result = cli(
            "--home",
            str(home.root),
            "run",
            "customer-service/resolve-ticket",
            "--set",
            "ticket=My invoice is wrong: you charged me twice!",
            "--set",
            "customer=Ada",
            "--set",
            "ticket_id=T-42",
            "--no-ui",
            env={"HOUSTON_LLM_BASE_URL": llm.url},
        )
    assert result.code == 0, result.err
    assert len(llm.requests) == 3
    _, draft, escalate = llm.requests
    assert "## Pattern: empathetic-resolution" in draft["messages"][0]["content"]
    assert "signature: The Example Co support team" in draft["messages"][0]["content"]
    assert (
        "## Results of the tasks this one needs\n\n### classify"
        in (draft["messages"][1]["content"])
    )
    assert (
        "Support desk of Example Co; ticket T-42 from Ada." in (escalate["messages"][1]["content"])
    )
    assert user_json(escalate)["draft_reply"].startswith(
        "Dear Ada, sorry: we are fixing your billing problem."
    )
    (ref,) = MissionStore(home).list()
    report = (ref.path / "outputs" / "ticket-t-42.md").read_text()
    assert "# Ticket T-42: The invoice charges the customer twice." in report
    assert "- category: **billing**" in report
    assert "## Draft reply (written for a billing ticket, high urgency)" in report
    assert "> Dear Ada, sorry: we are fixing your billing problem." in report
    assert "Followed: category billing (as classified)" in report
    assert "Rests on: category billing, urgency high, sentiment angry (as classified)" in report
    assert "Reply checks: within the reply rules" in report
    assert "## Escalation: YES, to billing-team" in report
    assert "Why: a billing ticket the draft answers (high, angry)" in report
    assert "overridden: the thresholds require escalation (rule urgency=high, " in report
    summary = json.loads((ref.path / "outputs" / "ticket-t-42.json").read_text())
    assert summary["classification"] == CLASSIFICATION
    assert summary["escalation"]["escalate"] is True


@pytest.mark.process
def test_handle_escalation_compensates_within_the_rules_and_plans_the_follow_up(
    home: Home,
) -> None:
    assert cli("--home", str(home.root), "package", "install", "customer-service@^1.2").code == 0
    with ScriptedLLM(answer) as llm:
        result = cli(
            "--home",
            str(home.root),
            "run",
            "customer-service/handle-escalation",
            "--set",
            "ticket=Charged twice, third time I write!",
            "--set",
            "amount=250",
            "--set",
            "ticket_id=T-7",
            "--no-ui",
            env={"HOUSTON_LLM_BASE_URL": llm.url},
        )
    assert result.code == 0, result.err
    assert len(llm.requests) == 5
    (ref,) = MissionStore(home).list()
    refund = json.loads((ref.path / "tasks" / "compensate" / "result.json").read_text())
    assert refund["data"] == {"action": "refund", "amount": 100, "reason": "billing error"}
    follow = json.loads((ref.path / "tasks" / "follow-up" / "result.json").read_text())
    assert follow["data"]["send_after"] == "2d"
    report = (ref.path / "outputs" / "ticket-t-7.md").read_text()
    assert "## Escalation: YES, to billing-team" in report
    # the scripted reply promises a "full refund today": the rules catch it
    assert "Reply checks: promises 'full refund today' - edit before sending" in report


def test_the_report_says_when_a_step_did_not_follow_the_classification() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "customer_service_report", bundled_dir() / "customer-service" / "customer_service.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.followed({"category": "billing"}, CLASSIFICATION) == (
        "category billing (as classified)"
    )
    assert module.followed({"category": "technical", "urgency": "high"}, CLASSIFICATION) == (
        "category technical, urgency high - differs from the classification's category "
        "billing: check it"
    )
    assert module.followed({}, CLASSIFICATION).startswith("does not say")
