"""Results flow along `needs` (`{{ tasks.<id>.result }}`, ctx.needs, stdin, $HOUSTON_NEEDS),
parameters of plain mission files, and llm agents in real missions: an llm initializer
that fans out, and a JSON answer that fails its schema and is retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.packages import Result, cli
from helpers.scripted_llm import ScriptedLLM, planner_answer, text, tools

from houston.core.errors import SpecError
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.mission import load_mission

pytestmark = pytest.mark.process

PRODUCER = """'echo "{\\"n\\": 5, \\"word\\": \\"hi\\", \\"deep\\": {\\"list\\": [1, 2]}}"'"""


def run_mission(
    home: Home, mission: str | Path, *args: str, env: dict[str, str] | None = None
) -> Result:
    """`houston run MISSION ARGS --no-ui` in this home."""
    return cli("--home", str(home.root), "run", str(mission), *args, "--no-ui", env=env)


def only_mission(home: Home) -> Path:
    (ref,) = MissionStore(home).list()
    return ref.path


def result_of(home: Home, task: str) -> Any:
    return json.loads((only_mission(home) / "tasks" / task / "result.json").read_text())


def test_results_flow_into_inputs_stdin_and_needs_file(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "flow.yaml"
    mission.write_text(f"""\
name: flow
context: Shared words for every agent.
tasks:
  - id: a
    agent: core/shell
    inputs: {{command: {PRODUCER}}}
  - id: b
    agent: core/shell
    needs: [a]
    inputs:
      command: 'cat > "$HOUSTON_OUTPUTS/b-stdin.json"; cp "$HOUSTON_NEEDS" "$HOUSTON_OUTPUTS/"'
      count: "{{{{ tasks.a.result.n }}}}"
      message: "got {{{{ tasks.a.result.word }}}} and {{{{ tasks.a.result.deep.list }}}}"
      second: "{{{{ tasks.a.result.deep.list.1 }}}}"
  - id: c
    agent: core/shell
    needs: [b]
    inputs:
      command: 'echo "{{\\"whole\\": 1}}"'
      from_a: "{{{{ tasks.a.result }}}}"
""")
    result = run_mission(home, mission)
    assert result.code == 0, result.err
    folder = only_mission(home)
    seen = json.loads((folder / "outputs" / "b-stdin.json").read_text())
    assert seen["inputs"]["count"] == 5  # a whole-string placeholder keeps the type
    assert seen["inputs"]["message"] == "got hi and [1, 2]"
    assert seen["inputs"]["second"] == 2
    assert seen["needs"] == {"a": {"n": 5, "word": "hi", "deep": {"list": [1, 2]}}}
    assert seen["context"] == "Shared words for every agent."
    assert json.loads((folder / "outputs" / "needs.json").read_text()) == seen["needs"]
    spec = json.loads((folder / "tasks" / "c" / "spec.json").read_text())
    assert spec["inputs"]["from_a"] == "{{ tasks.a.result }}"  # filled per attempt only


def test_a_result_of_a_task_not_needed_is_refused_at_submit(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "bad.yaml"
    mission.write_text("""\
name: bad
tasks:
  - id: a
    agent: core/shell
    inputs: {command: 'true'}
  - id: b
    agent: core/shell
    inputs:
      command: 'true'
      x: "{{ tasks.a.result.n }}"
""")
    result = run_mission(home, mission)
    assert result.code == 2
    assert f"{mission}:10" in result.err
    assert "uses the result of 'a', which it does not need" in result.err
    assert "add 'a' to its needs" in result.err
    assert not MissionStore(home).list()


def test_transitive_needs_may_be_used_and_malformed_placeholders_are_refused() -> None:
    ok = """\
name: chain
tasks:
  - {id: a, agent: core/shell, inputs: {command: 'true'}}
  - {id: b, agent: core/shell, needs: [a], inputs: {command: 'true'}}
  - {id: c, agent: core/shell, needs: [b], inputs: {v: "{{ tasks.a.result }}"}}
"""
    assert load_mission(ok, "chain.yaml").tasks[2].inputs["v"] == "{{ tasks.a.result }}"
    with pytest.raises(SpecError, match=r"chain.yaml:5:.*not tasks.<id>.result"):
        load_mission(ok.replace("tasks.a.result", "tasks.a.output"), "chain.yaml")


def test_plain_mission_parameters_and_set(home: Home, tmp_path: Path) -> None:
    mission = tmp_path / "greet.yaml"
    mission.write_text("""\
name: "greet {{ who }}"
parameters:
  - {name: who, required: true}
  - {name: times, default: 2}
tasks:
  - id: say
    agent: core/shell
    inputs:
      command: 'cat > "$HOUSTON_OUTPUTS/in.json"'
      who: "{{ who }}"
      times: "{{ times }}"
""")
    missing = run_mission(home, mission)
    assert missing.code == 2 and "needs parameter 'who'" in missing.err
    unknown = run_mission(home, mission, "--set", "whom=x")
    assert unknown.code == 2 and "unknown parameter whom" in unknown.err
    typed = run_mission(home, mission, "--set", "who=Ada", "--set", "times=three")
    assert typed.code == 2 and "--set times: 'three' is not an integer" in typed.err
    assert not MissionStore(home).list()
    result = run_mission(home, mission, "--set", "who=Ada", "--set", "times=3")
    assert result.code == 0, result.err
    seen = json.loads((only_mission(home) / "outputs" / "in.json").read_text())
    assert seen["inputs"]["who"] == "Ada" and seen["inputs"]["times"] == 3


def test_a_planner_fans_out_from_its_llm_answer(home: Home, tmp_path: Path) -> None:
    def answer(body: dict[str, Any], number: int) -> dict[str, Any]:
        system = body["messages"][0]["content"]
        if system.startswith("You are a planner"):
            return text(json.dumps(planner_answer(3)))
        step = json.loads(body["messages"][1]["content"].split("```json\n")[1].split("```")[0])
        return text(json.dumps({"done": True, "summary": f"did {step['step']}"}))

    mission = tmp_path / "plan.yaml"
    mission.write_text("""\
name: planned
initializer:
  id: plan
  agent: core-workflow/planner
  inputs: {goal: "a FAQ"}
tasks:
  - id: approve
    agent: core-workflow/approve-plan
    inputs: {goal: "a FAQ", plan: "{{ tasks.plan.result.data }}"}
""")
    with ScriptedLLM(answer) as llm:
        result = run_mission(home, mission, env={"HOUSTON_LLM_BASE_URL": llm.url})
    assert result.code == 0, result.err
    assert llm.requests[0]["response_format"]["type"] == "json_schema"
    assert len(llm.requests) == 4  # the plan, then one call per step
    outputs = only_mission(home) / "outputs"
    assert "- `step-3` (after step-2): write part 3" in (outputs / "plan.md").read_text()
    report = (outputs / "report.md").read_text()
    assert "3 of 3 steps done." in report and "did write part 2" in report
    # step-3 needed step-2: its model saw step-2's answer among its needs' results
    step3 = next(r for r in llm.requests if "write part 3" in r["messages"][1]["content"])
    assert "did write part 2" in step3["messages"][1]["content"]


def test_an_answer_breaking_the_schema_is_a_failed_attempt_that_retries(
    home: Home, tmp_path: Path
) -> None:
    good = {
        "category": "billing",
        "urgency": "high",
        "sentiment": "angry",
        "summary": "Charged twice.",
    }
    answers = [text(json.dumps({**good, "category": "cake"})), text(json.dumps(good))]
    mission = tmp_path / "classify.yaml"
    mission.write_text("""\
name: classify
tasks:
  - id: classify
    agent: customer-service/ticket-classifier
    retries: 1
    inputs: {ticket: "I was charged twice!"}
""")
    with ScriptedLLM(lambda body, n: answers[n - 1]) as llm:
        result = run_mission(home, mission, env={"HOUSTON_LLM_BASE_URL": llm.url})
    assert result.code == 0, result.err
    assert len(llm.requests) == 2
    task = only_mission(home) / "tasks" / "classify"
    first = json.loads((task / "attempts" / "1" / "exit.json").read_text())
    assert "does not match output_schema at category" in first["error"]
    assert result_of(home, "classify")["data"] == good


def test_tool_calls_of_a_real_attempt_are_events_and_log_lines(home: Home, tmp_path: Path) -> None:
    script = [
        tools(
            ("Write", {"file_path": "faq.md", "content": "# FAQ\n"}),
            ("Write", {"file_path": "../../../../outputs/x.md", "content": "no"}),
        ),
        text(json.dumps({"done": True, "summary": "wrote faq.md", "files": ["faq.md"]})),
    ]
    mission = tmp_path / "one.yaml"
    mission.write_text("""\
name: one step
tasks:
  - id: step
    agent: core-workflow/executor
    inputs: {step: "write the FAQ", goal: "a FAQ"}
""")
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        result = run_mission(home, mission, env={"HOUSTON_LLM_BASE_URL": llm.url})
    assert result.code == 0, result.err
    folder = only_mission(home)
    attempt = folder / "tasks" / "step" / "attempts" / "1"
    assert (attempt / "faq.md").read_text() == "# FAQ\n"
    assert not (folder / "outputs" / "x.md").exists()
    calls = [e for e in EventLog(home.root / "events").read() if e["type"] == "tool.call"]
    assert [(e["task"], e["attempt"], e["data"]["tool"], e["data"]["outcome"]) for e in calls] == [
        ("step", 1, "Write", "ok"),
        ("step", 1, "Write", "error"),
    ]
    assert calls[0]["data"]["summary"] == "file_path=faq.md content=# FAQ"
    assert isinstance(calls[0]["data"]["duration_ms"], int)
    log = (attempt / "stdout.log").read_text()
    assert "[tool] Write file_path=faq.md content=# FAQ -> ok" in log
    assert result_of(home, "step")["data"]["files"] == ["faq.md"]


def test_the_bundled_pipeline_example_runs_offline(home: Home) -> None:
    example = str(Path(__file__).resolve().parents[1] / "missions" / "pipeline.yaml")
    result = run_mission(home, example, "--set", "words=hello brave new world")
    assert result.code == 0, result.err
    assert result_of(home, "summary") == {"summary": "4 words: HELLO BRAVE NEW WORLD"}


@pytest.mark.parametrize(
    ("task_budget", "limit"),
    [
        ("    budget: {max_tokens: 1500}\n", "max_tokens (1500)"),  # its own reservation is its own
        ("", "the mission's tokens left (2000)"),
    ],
)
def test_a_tool_loop_stops_before_a_call_would_pass_its_budget(
    home: Home, tmp_path: Path, task_budget: str, limit: str
) -> None:
    # 300 a call: either budget is reached well before the executor's maxTurns (12)
    usage = {"prompt_tokens": 290, "completion_tokens": 10, "total_tokens": 300}
    mission = tmp_path / "loop.yaml"
    mission.write_text(f"""\
name: loop
budget: {{max_tokens: 2000}}
tasks:
  - id: step
    agent: core-workflow/executor
{task_budget}    retries: 0
    inputs: {{step: "look around forever", goal: "nothing"}}
""")
    with ScriptedLLM(lambda body, n: tools(("Glob", {"pattern": "*"}), usage=usage)) as llm:
        result = run_mission(home, mission, env={"HOUSTON_LLM_BASE_URL": llm.url})
    assert result.code == 1
    attempt = only_mission(home) / "tasks" / "step" / "attempts" / "1"
    exit_ = json.loads((attempt / "exit.json").read_text())
    assert exit_["error"].startswith(f"budget_exceeded: {len(llm.requests) * 300} tokens spent")
    assert f"would pass {limit}" in exit_["error"]
    assert 1 <= len(llm.requests) <= 6  # stopped by the runner, before the engine had to
    assert json.loads((attempt / "usage.json").read_text())["tokens"] == len(llm.requests) * 300


def test_a_python_agent_sees_ctx_needs_and_ctx_mission_context(home: Home) -> None:
    folder = home.packages / "p" / "1.0.0"
    (folder / "agents").mkdir(parents=True)
    (folder / "package.yaml").write_text("name: p\nversion: 1.0.0\n")
    (folder / "p_agents.py").write_text(
        "def look(ctx):\n"
        "    return {'needs': ctx.needs, 'context': ctx.mission_context, 'n': ctx.inputs['n']}\n"
    )
    (folder / "agents" / "look.md").write_text(
        "---\nname: look\ndescription: d\nrunner: python\nentrypoint: p_agents:look\n---\n"
    )
    mission = home.root.parent / "look.yaml"
    mission.write_text(f"""\
name: look
context: Seen by python agents too.
tasks:
  - {{id: a, agent: core/shell, inputs: {{command: {PRODUCER}}}}}
  - {{id: b, agent: p/look, needs: [a], inputs: {{n: "{{{{ tasks.a.result.n }}}}"}}}}
""")
    result = run_mission(home, mission)
    assert result.code == 0, result.err
    assert result_of(home, "b") == {
        "needs": {"a": {"n": 5, "word": "hi", "deep": {"list": [1, 2]}}},
        "context": "Seen by python agents too.",
        "n": 5,
    }
