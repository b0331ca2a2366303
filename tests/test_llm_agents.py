"""The llm runner's agent loop against a scripted loopback OpenAI-compatible server:
prompts, JSON answers, Claude Code's tools confined to the work folder, MCP servers,
maxTurns and the budget checked before every model call."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.scripted_llm import ScriptedLLM, text, tools

from houston.agents.catalog import parse_agent
from houston.core.errors import RunnerError, SpecError
from houston.home.blackboard import Blackboard
from houston.runners import Job, Outcome
from houston.runners.llm import run_llm

HERE = Path(__file__).resolve().parent
CALC_SERVER = HERE / "helpers" / "mcp_calc_server.py"


class Ctx:
    """The AgentContext a worker gives, minus the engine: usage and events are kept."""

    def __init__(self, job: Job, needs: dict[str, Any] | None = None, context: str = "") -> None:
        self.job = job
        self.inputs = job.inputs
        self.prompt = job.prompt
        self.needs = needs or {}
        self.mission_context = context
        self.reports: list[int] = []
        self.splits: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.work_dir = Path(job.attempt_dir)
        self.blackboard = Blackboard(Path(job.mission_dir))

    def report_usage(self, tokens: int | None = 0, cost: float = 0.0, **split: Any) -> None:
        self.reports.append(tokens or 0)
        self.splits.append(split)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        self.events.append((type_, data))

    def register_process(self, proc: subprocess.Popen[bytes]) -> None:
        self.procs.append(proc)


def make_job(
    tmp_path: Path,
    url: str,
    inputs: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
    stream: bool = True,
    **agent: Any,
) -> Job:
    mission = tmp_path / "mission"
    work = mission / "tasks" / "t" / "attempts" / "1"
    work.mkdir(parents=True, exist_ok=True)
    return Job(
        mission_id="m",
        task_id="t",
        attempt=1,
        agent_ref="pkg/a",
        agent={"name": "a", "description": "d", "llm": {"model": "m1", "stream": stream}, **agent},
        prompt="You are careful.",
        package_dir=str(tmp_path / "pkg"),
        inputs=inputs or {"goal": "do it"},
        mission_dir=str(mission),
        attempt_dir=str(work),
        budget=budget or {},
        env={"HOUSTON_LLM_BASE_URL": url, "HOUSTON_LLM_TIMEOUT": "10"},
    )


def run(job: Job, ctx: Ctx | None = None) -> tuple[Outcome, Ctx]:
    ctx = ctx or Ctx(job)
    return run_llm(job, ctx), ctx  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [True, False])
def test_json_mode_asks_with_response_format_and_parses(tmp_path: Path, stream: bool) -> None:
    with ScriptedLLM(lambda body, n: text('```json\n{"category": "billing"}\n```')) as llm:
        outcome, ctx = run(make_job(tmp_path, llm.url, stream=stream, output="json"))
    assert outcome.ok and outcome.result is not None, outcome.error
    assert outcome.result["data"] == {"category": "billing"}
    assert outcome.result["usage"]["total_tokens"] == 25 and sum(ctx.reports) == 25
    assert llm.requests[0]["response_format"] == {"type": "json_object"}
    assert llm.requests[0]["stream"] is stream


def test_an_answer_that_breaks_the_schema_fails_the_attempt_clearly(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["urgency"],
        "properties": {"urgency": {"enum": ["low", "high"]}},
    }
    with ScriptedLLM(lambda body, n: text('{"urgency": "whenever"}')) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, output_schema=schema))
    assert not outcome.ok
    assert outcome.error is not None and "does not match output_schema at urgency" in (
        outcome.error
    )
    sent = llm.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema


def test_not_json_at_all_is_a_failed_attempt(tmp_path: Path) -> None:
    with ScriptedLLM(lambda body, n: text("Sure! Here it is.")) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, output="json"))
    assert not outcome.ok and outcome.error is not None
    assert "the answer is not JSON" in outcome.error


def test_prompt_has_body_patterns_config_then_inputs_needs_context(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "patterns").mkdir(parents=True)
    (pkg / "config").mkdir()
    (pkg / "patterns" / "calm.md").write_text("Stay calm and kind.\n")
    (pkg / "config" / "limits.yaml").write_text("refund_max: 50\n")
    (pkg / "package.yaml").write_text(
        "name: pkg\nversion: 1.0.0\ndescription: d\nauthor: a\nlicense: MIT\n"
        "agents: [a]\npatterns: [calm]\nconfig: {limits: config/limits.yaml}\n"
    )
    needs = {"classify": {"text": "{}", "model": "m", "data": {"category": "billing"}}}
    with ScriptedLLM(lambda body, n: text("ok")) as llm:
        job = make_job(tmp_path, llm.url, patterns=["calm"], config=["limits"])
        outcome, _ = run(job, Ctx(job, needs=needs, context="VIP customer"))
    assert outcome.ok, outcome.error
    system, user = llm.requests[0]["messages"]
    assert (
        system["content"].index("You are careful.")
        < system["content"].index("## Pattern: calm\n\nStay calm and kind.")
        < system["content"].index("refund_max: 50")
    )
    body = user["content"]
    assert (
        body.index('"goal": "do it"')
        < body.index('"category": "billing"')
        < body.index("VIP customer")
    )


def test_tools_read_write_edit_glob_grep_in_the_work_folder(tmp_path: Path) -> None:
    script = [
        tools(("Write", {"file_path": "notes/a.txt", "content": "alpha\nbeta\n"})),
        tools(
            ("Edit", {"file_path": "notes/a.txt", "old_string": "beta", "new_string": "gamma"}),
            ("Glob", {"pattern": "**/*.txt"}),
        ),
        tools(
            ("Grep", {"pattern": "gam+a", "output_mode": "content"}),
            ("Read", {"file_path": "notes/a.txt"}),
        ),
        text("done"),
    ]
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        job = make_job(tmp_path, llm.url, tools="Read, Write, Edit, Glob, Grep")
        outcome, ctx = run(job)
    assert outcome.ok and outcome.result is not None, outcome.error
    assert (Path(job.attempt_dir) / "notes" / "a.txt").read_text() == "alpha\ngamma\n"
    assert llm.tool_answers(3)[1] == "notes/a.txt"
    assert llm.tool_answers(4)[0] == "notes/a.txt:2:gamma"
    assert "     2\tgamma" in llm.tool_answers(4)[1]
    offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
    assert offered == {"Read", "Write", "Edit", "Glob", "Grep"}
    assert [e[1]["tool"] for e in ctx.events] == ["Write", "Edit", "Glob", "Grep", "Read"]
    assert all(t == "tool.call" and e["outcome"] == "ok" for t, e in ctx.events)
    assert outcome.result["turns"] == 4 and outcome.result["tool_calls"] == 5


def test_a_write_outside_the_work_folder_is_refused_and_the_model_is_told(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "escape.txt"
    script = [
        tools(
            ("Write", {"file_path": str(outside), "content": "x"}),
            ("Write", {"file_path": "../../../../escape.txt", "content": "x"}),
            ("Write", {"file_path": "link/escape.txt", "content": "x"}),
            ("Read", {"file_path": "/etc/hostname"}),
        ),
        text("gave up"),
    ]
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        job = make_job(tmp_path, llm.url, tools=["Read", "Write"])
        (Path(job.attempt_dir) / "link").symlink_to(tmp_path)
        outcome, ctx = run(job)
    assert outcome.ok, outcome.error
    answers = llm.tool_answers(2)
    assert len(answers) == 4
    assert all(a.startswith("Error:") and "outside the work folder" in a for a in answers)
    assert not outside.exists()
    assert [e["outcome"] for _, e in ctx.events] == ["error"] * 4
    assert "[tool] Write" in capfd.readouterr().out


def test_bash_runs_in_the_work_folder_and_disallowed_tools_are_not_offered(
    tmp_path: Path,
) -> None:
    script = [tools(("Bash", {"command": "pwd; echo hi > made.txt; exit 3"})), text("ok")]
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        job = make_job(tmp_path, llm.url, tools=["Bash", "Write"], disallowedTools="Write")
        outcome, ctx = run(job)
    assert outcome.ok, outcome.error
    assert [t["function"]["name"] for t in llm.requests[0]["tools"]] == ["Bash"]
    answer = llm.tool_answers(2)[0]
    assert "exit code 3" in answer and str(Path(job.attempt_dir).resolve()) in answer
    assert (Path(job.attempt_dir) / "made.txt").read_text() == "hi\n"
    assert ctx.procs and ctx.procs[0].returncode == 3


def test_blackboard_tools_share_directives_and_decisions(tmp_path: Path) -> None:
    script = [
        tools(
            ("BlackboardWrite", {"key": "plan", "value": {"steps": 2}}),
            ("BlackboardWrite", {"decision": "use the cheap model"}),
        ),
        tools(("BlackboardRead", {})),
        text("ok"),
    ]
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        job = make_job(tmp_path, llm.url, tools=["BlackboardRead", "BlackboardWrite"])
        outcome, _ = run(job)
    assert outcome.ok, outcome.error
    board = json.loads(llm.tool_answers(3)[0])
    assert board["directives"] == {"plan": {"steps": 2}}
    assert board["decisions"][0]["text"] == "use the cheap model"


def test_a_runaway_loop_is_stopped_by_its_budget_before_the_next_call(tmp_path: Path) -> None:
    usage = {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300}
    forever = tools(("Glob", {"pattern": "*"}), usage=usage)
    with ScriptedLLM(lambda body, n: forever) as llm:
        job = make_job(tmp_path, llm.url, budget={"max_tokens": 1000}, tools=["Glob"])
        outcome, ctx = run(job)
    assert not outcome.ok and outcome.error is not None
    assert outcome.error.startswith("budget_exceeded: 900 tokens spent")
    assert len(llm.requests) == 3  # the fourth call would have passed 1000: never made
    assert sum(ctx.reports) == 900


def test_max_turns_bounds_the_loop(tmp_path: Path) -> None:
    with ScriptedLLM(lambda body, n: tools(("Glob", {"pattern": "*"}))) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, tools=["Glob"], maxTurns=2))
    assert not outcome.ok and outcome.error is not None and "maxTurns (2)" in outcome.error
    assert len(llm.requests) == 2


def test_an_unknown_tool_is_an_error_the_model_sees(tmp_path: Path) -> None:
    script = [tools(("Bash", {"command": "true"})), text("ok")]
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, tools=["Read"]))
    assert outcome.ok
    assert llm.tool_answers(2)[0].startswith("Error: no tool 'Bash' for this agent")


@pytest.mark.process
def test_mcp_server_tools_are_offered_and_called(tmp_path: Path) -> None:
    script = [
        tools(("mcp__calc__add", {"a": 2, "b": 3}), ("mcp__calc__fail", {"reason": "nope"})),
        text("5"),
    ]
    servers = {"calc": {"command": sys.executable, "args": [str(CALC_SERVER)]}}
    with ScriptedLLM(lambda body, n: script[n - 1]) as llm:
        job = make_job(tmp_path, llm.url, tools=["mcp__calc"], mcpServers=servers)
        outcome, ctx = run(job)
    assert outcome.ok, outcome.error
    offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
    assert offered == {"mcp__calc__add", "mcp__calc__fail"}
    added, failed = llm.tool_answers(2)
    assert added == "5"
    assert failed.startswith("Error:") and "fail" in failed  # the SDK hides the reason
    assert [e["outcome"] for _, e in ctx.events] == ["ok", "error"]


def test_a_stream_cut_before_done_is_a_failure_not_an_empty_answer(tmp_path: Path) -> None:
    said = re.escape("stream was cut after 11 characters (no data: [DONE])")
    with (
        ScriptedLLM(lambda body, n: {**text("half an ans"), "cut": True}) as llm,
        pytest.raises(RunnerError, match=said),
    ):
        run(make_job(tmp_path, llm.url))


def test_claude_codes_model_key_is_not_sent_to_an_openai_endpoint(tmp_path: Path) -> None:
    with ScriptedLLM(lambda body, n: text("ok")) as llm:
        job = make_job(tmp_path, llm.url, model="sonnet")
        job.agent["llm"] = {"temperature": 0.1}
        outcome, _ = run(job)
    assert outcome.ok
    assert llm.requests[0]["model"] == "llama3.2"  # the default, not "sonnet"
    assert llm.requests[0]["temperature"] == 0.1


@pytest.mark.parametrize("model", ["sonnet", "opus", "haiku", "inherit", "claude-sonnet-4-5"])
def test_claude_model_names_are_accepted_in_agent_files(model: str) -> None:
    agent = parse_agent(f"---\nname: a\ndescription: d\nmodel: {model}\n---\nHi\n", "a.md")
    assert agent.model == model


def test_an_openai_model_name_in_model_is_refused_with_the_fix() -> None:
    with pytest.raises(SpecError) as refused:
        parse_agent("---\nname: a\ndescription: d\nmodel: llama3.2\n---\nHi\n", "a.md")
    message = str(refused.value)
    assert "a.md:4" in message and "llm: {model: llama3.2}" in message


def test_a_bad_output_schema_is_refused_when_the_agent_is_read() -> None:
    text_ = "---\nname: a\ndescription: d\noutput_schema: {type: banana}\n---\nHi\n"
    with pytest.raises(SpecError, match=r"a.md:4.*output_schema is not a JSON Schema"):
        parse_agent(text_, "a.md")


def test_a_server_that_refuses_json_schema_is_asked_with_json_object(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["ok"]}

    def llama_cpp_like(body: dict[str, Any], number: int) -> dict[str, Any]:
        if body["response_format"]["type"] != "json_object":
            return {
                "status": 422,
                "error": "response_format.type: Input should be 'text' or 'json_object'",
            }
        return text('{"ok": true}')

    with ScriptedLLM(llama_cpp_like) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, output_schema=schema))
    assert outcome.ok and outcome.result is not None, outcome.error
    assert outcome.result["data"] == {"ok": True}
    assert [r["response_format"]["type"] for r in llm.requests] == ["json_schema", "json_object"]
    assert llm.requests[1]["response_format"]["schema"] == schema


def test_a_500_to_json_schema_is_that_refusal_and_is_asked_with_json_object(tmp_path: Path) -> None:
    # llama-cpp-python 0.3.x fails inside its handler on an unknown response_format type.
    schema = {"type": "object", "required": ["ok"]}

    def llama_cpp_03(body: dict[str, Any], number: int) -> dict[str, Any]:
        if body["response_format"]["type"] == "json_schema":
            return {"status": 500, "error": "Internal Server Error"}
        return text('{"ok": true}')

    with ScriptedLLM(llama_cpp_03) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url, output_schema=schema))
    assert outcome.ok and outcome.result is not None, outcome.error
    assert outcome.result["data"] == {"ok": True}
    assert [r["response_format"]["type"] for r in llm.requests] == ["json_schema", "json_object"]


def test_a_500_to_any_other_request_stays_an_error_and_is_not_asked_again(tmp_path: Path) -> None:
    with ScriptedLLM(lambda body, n: {"status": 500, "error": "out of memory"}) as llm:
        with pytest.raises(RunnerError, match="answered 500: out of memory"):
            run(make_job(tmp_path, llm.url))
        with pytest.raises(RunnerError, match="answered 500: out of memory"):
            run(make_job(tmp_path / "b", llm.url, output="json"))
    assert len(llm.requests) == 2, llm.requests


@pytest.mark.parametrize("how", ["env", "llm-key"])
def test_fold_system_puts_the_system_prompt_in_the_first_user_message(
    tmp_path: Path, how: str
) -> None:
    with ScriptedLLM(lambda body, n: text("fine")) as llm:
        job = make_job(tmp_path, llm.url, inputs={"ticket": "My invoice is wrong"})
        if how == "env":
            job.env["HOUSTON_LLM_FOLD_SYSTEM"] = "1"
        else:
            job.agent["llm"] = {**job.agent["llm"], "fold_system": True}
        outcome, _ = run(job)
    assert outcome.ok, outcome.error
    sent = llm.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["user"]
    assert sent[0]["content"].startswith("You are careful.\n\n## Inputs")
    assert "My invoice is wrong" in sent[0]["content"]


def test_without_fold_system_the_system_message_is_sent_as_such(tmp_path: Path) -> None:
    with ScriptedLLM(lambda body, n: text("fine")) as llm:
        outcome, _ = run(make_job(tmp_path, llm.url))
    assert outcome.ok, outcome.error
    sent = llm.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[0]["content"] == "You are careful."


def test_the_missions_tokens_left_also_stop_the_loop(tmp_path: Path) -> None:
    usage = {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300}
    with ScriptedLLM(lambda body, n: tools(("Glob", {"pattern": "*"}), usage=usage)) as llm:
        job = make_job(
            tmp_path,
            llm.url,
            budget={"max_tokens": None, "mission_tokens_left": 500},
            tools=["Glob"],
        )
        outcome, _ = run(job)
    assert not outcome.ok and outcome.error is not None
    assert "would pass the mission's tokens left (500)" in outcome.error
    assert len(llm.requests) == 2


@pytest.mark.process
def test_only_named_mcp_servers_start_and_only_stdio_ones(tmp_path: Path) -> None:
    servers = {
        "calc": {"command": sys.executable, "args": [str(CALC_SERVER)]},
        "ghost": {"command": str(tmp_path / "no-such-server")},
        "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
    }
    agent_file = parse_agent(
        "---\nname: a\ndescription: d\nmcpServers:\n  web: {type: http, "
        "url: 'http://127.0.0.1:9/mcp'}\n---\nHi\n",
        "a.md",
    )
    assert agent_file.mcpServers is not None and agent_file.mcpServers["web"].type == "http"
    with ScriptedLLM(lambda body, n: text("ok")) as llm:
        job = make_job(tmp_path, llm.url, tools=["mcp__calc__add"], mcpServers=servers)
        outcome, _ = run(job)  # ghost is not named: never started
        assert outcome.ok, outcome.error
        assert [t["function"]["name"] for t in llm.requests[0]["tools"]] == ["mcp__calc__add"]
        job = make_job(tmp_path, llm.url, tools=["mcp__web"], mcpServers=servers)
        with pytest.raises(RunnerError, match="MCP server 'web' is not a stdio server"):
            run(job)
