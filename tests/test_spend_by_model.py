"""Spend by model with tokens in and out, from every kind of agent that spends: python
agents (`ctx.report_usage(..., model=, input_tokens=, output_tokens=)`), command agents
(their result's `usage`), llm agents (the server's usage) and the embedded model
(`local:<weights file>`). The Claude Code runner's share is in test_claude_code.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers.engine import outcome, run_engine, submit
from helpers.scripted_llm import ScriptedLLM, text

from houston.cli.main import cli
from houston.engine import localmodel as lm
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.runners import Job
from houston.runners.claude_stream import Meter
from houston.runners.context import JobContext
from houston.runners.llm_settings import settings_for
from houston.runners.llm_wire import token_split

SPENDERS = """
import json, sys


def priced(ctx):
    for _ in range(2):
        ctx.report_usage(cost=0.25, model=ctx.inputs["model"], input_tokens=100,
                         output_tokens=20)
    return {"ok": True}
"""

COMMAND_AGENT = (
    "import json; print(json.dumps({'answer': 42, 'usage': {'cost': 0.5, "
    "'model': 'tool-model-7b', 'input_tokens': 300, 'output_tokens': 45}}))"
)


def job(tmp_path: Path, **agent: Any) -> Job:
    return Job(
        mission_id="m",
        task_id="t",
        attempt=1,
        agent_ref="p/a",
        agent={"name": "a", **agent},
        prompt="",
        package_dir=str(tmp_path),
        inputs={},
        mission_dir=str(tmp_path),
        attempt_dir=str(tmp_path),
    )


def test_a_context_adds_up_the_model_and_the_split(tmp_path: Path) -> None:
    ctx = JobContext(job(tmp_path))
    assert ctx.count_usage(None, 0.1, "m1", 10, 5) == (15, 0.1)  # no tokens: in + out
    assert ctx.count_usage(7, 0.0) == (7, 0.0)  # tokens alone: no split, model kept
    assert ctx.usage_record().encode() == {
        "tokens": 22,
        "cost": 0.1,
        "model": "m1",
        "input_tokens": 10,
        "output_tokens": 5,
    }
    bare = JobContext(job(tmp_path))
    bare.count_usage(3, 0.0)
    assert bare.usage_record().encode() == {"tokens": 3, "cost": 0.0}


def test_token_split_takes_the_servers_figures_else_the_estimate() -> None:
    assert token_split({"prompt_tokens": 20, "completion_tokens": 5}, 25, 99) == (20, 5)
    assert token_split({"total_tokens": 30, "estimated": 1}, 30, 12) == (12, 18)
    assert token_split(None, 10, 40) == (10, 0)


def test_the_claude_meter_splits_input_and_output_and_takes_the_results_totals() -> None:
    meter = Meter()
    meter.on_stream_event(
        {
            "type": "message_start",
            "message": {
                "id": "a",
                "model": "claude-haiku-4-5",
                "usage": {"input_tokens": 100, "cache_read_input_tokens": 50, "output_tokens": 1},
            },
        }
    )
    meter.on_stream_event({"type": "message_delta", "usage": {"output_tokens": 30}})
    assert meter.split() == (150, 30)
    assert meter.split_delta() == (150, 30) and meter.split_delta() == (0, 0)
    meter.on_result({"usage": {"input_tokens": 160, "output_tokens": 40}, "total_cost_usd": 0.01})
    assert meter.split_delta() == (10, 10)
    assert meter.model == "claude-haiku-4-5"


def test_the_embedded_model_is_recorded_by_its_weights_file(tmp_path: Path) -> None:
    label = lm.model_label("/cache/gemma-3-270m-it-Q4_K_M.gguf")
    assert label == "local:gemma-3-270m-it-Q4_K_M.gguf"
    _, env = lm.pointed({"llm": {"base_url": "local", "model": "gpt-4o"}}, "http://h/v1", label)
    settings = settings_for(job(tmp_path, llm={"model": "gpt-4o"}), environ=env)
    assert settings.model == "gpt-4o"  # what is asked (llama.cpp ignores it) ...
    assert settings.recorded_model == label  # ... and what is recorded
    plain = settings_for(job(tmp_path, llm={"model": "gpt-4o"}), environ={})
    assert plain.recorded_model == "gpt-4o"


def make_spenders(home: Home, llm_url: str) -> None:
    folder = home.packages / "s" / "1.0.0"
    (folder / "agents").mkdir(parents=True)
    (folder / "package.yaml").write_text("name: s\nversion: 1.0.0\n")
    (folder / "spenders.py").write_text(SPENDERS)
    agents = {
        "priced": "runner: python\nentrypoint: spenders:priced",
        "tool": "runner: command\ncommand: [python3, -c, " + json.dumps(COMMAND_AGENT) + "]",
        "talker": f"llm: {{base_url: '{llm_url}', model: scripted-9b, stream: true}}",
    }
    for name, keys in agents.items():
        (folder / "agents" / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: spends\n{keys}\n---\nAnswer briefly.\n"
        )


def costs(home: Home, by: str) -> dict[str, Any]:
    answer = CliRunner().invoke(cli, ["--home", str(home.root), "costs", "--by", by, "--json"])
    assert answer.exit_code == 0, answer.output
    table: dict[str, Any] = json.loads(answer.output)
    return table


@pytest.mark.process
def test_every_agent_kind_records_its_model_and_tokens_in_and_out(home: Home) -> None:
    usage = {"prompt_tokens": 70, "completion_tokens": 12, "total_tokens": 82}
    with ScriptedLLM(lambda body, number: text("Hello there.", usage)) as llm:
        make_spenders(home, llm.url)
        ref = submit(
            home,
            """
            name: spend everywhere
            tasks:
              - {id: py, agent: s/priced, inputs: {model: house-model-1}}
              - {id: cmd, agent: s/tool}
              - {id: chat, agent: s/talker, inputs: {question: hi}}
        """,
        )
        run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    read = {
        t: attemptfiles.read_usage(taskfiles.attempt_dir(path, t, 1)) for t in ("py", "cmd", "chat")
    }
    recorded = {t: usage.encode() if usage else None for t, usage in read.items()}
    assert recorded["py"] == {
        "tokens": 240,
        "cost": 0.5,
        "model": "house-model-1",
        "input_tokens": 200,
        "output_tokens": 40,
    }
    assert recorded["cmd"] == {
        "tokens": 345,
        "cost": 0.5,
        "model": "tool-model-7b",
        "input_tokens": 300,
        "output_tokens": 45,
    }
    assert recorded["chat"] == {
        "tokens": 82,
        "cost": 0.0,
        "model": "scripted-9b",
        "input_tokens": 70,
        "output_tokens": 12,
    }
    rows = {r["model"]: r for r in costs(home, "model")["rows"]}
    assert {
        m: (r["input_tokens"], r["output_tokens"], r["tokens"], r["cost"]) for m, r in rows.items()
    } == {
        "house-model-1": (200, 40, 240, 0.5),
        "tool-model-7b": (300, 45, 345, 0.5),
        "scripted-9b": (70, 12, 82, 0.0),
    }
    agents = {r["agent"]: r["input_tokens"] for r in costs(home, "agent")["rows"]}
    assert agents == {"s/priced": 200, "s/tool": 300, "s/talker": 70}
