"""Pure parts of the claude-code runner: argv, prompt, spend as it arrives, tool calls."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from houston.core.errors import RunnerError
from houston.runners import Job
from houston.runners.claude_code import Session, find_claude, outcome_of
from houston.runners.claude_stream import (
    LiveText,
    Meter,
    Tools,
    build_argv,
    build_prompt,
    log_line,
    price_of,
    summarize,
)


def test_the_agents_claude_code_keys_become_its_flags() -> None:
    agent = {
        "tools": "Read, Edit, Bash",
        "disallowedTools": ["WebFetch"],
        "model": "sonnet",
        "permissionMode": "plan",
        "maxTurns": 7,
        "mcpServers": {"docs": {"command": "docs-server", "args": []}},
    }
    argv = build_argv("/bin/claude", agent, "Be careful.\n", resume="abc")
    flags = dict(itertools.pairwise(argv))  # each flag with the word after it
    assert argv[:3] == ["/bin/claude", "-p", "--output-format"]
    assert "--include-partial-messages" in argv and "--verbose" in argv
    assert flags["--append-system-prompt"] == "Be careful."
    assert flags["--tools"] == "Read,Edit,Bash" and flags["--allowedTools"] == "Read,Edit,Bash"
    assert flags["--disallowedTools"] == "WebFetch" and flags["--model"] == "sonnet"
    assert flags["--permission-mode"] == "plan" and flags["--max-turns"] == "7"
    assert json.loads(flags["--mcp-config"]) == {"mcpServers": agent["mcpServers"]}
    assert flags["--resume"] == "abc"
    plain = build_argv("claude", {"model": "inherit"}, "")
    assert "--model" not in plain and "--append-system-prompt" not in plain
    assert plain[plain.index("--permission-mode") + 1] == "acceptEdits"


def test_the_prompt_carries_inputs_needs_and_context() -> None:
    prompt = build_prompt(
        {"prompt": "Fix the TODO.", "file": "a.py"},
        {"scan": {"branch": "houston/m/tasks/scan/1"}},
        "Small diffs.",
    )
    assert prompt.startswith("Fix the TODO.")
    assert '"file": "a.py"' in prompt and "houston/m/tasks/scan/1" in prompt
    assert prompt.endswith("Mission context:\nSmall diffs.")
    assert build_prompt({}, {}, "") == "Begin."


def test_spend_is_counted_per_call_as_it_streams_then_set_to_claude_codes_totals() -> None:
    meter = Meter()
    start = {
        "type": "message_start",
        "message": {
            "id": "m1",
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 1000, "cache_read_input_tokens": 500, "output_tokens": 1},
        },
    }
    tokens, cost = meter.on_stream_event(start)
    assert tokens == 1501 and cost == pytest.approx((1500 * 3 + 15) / 1e6)
    delta = {"type": "message_delta", "usage": {"output_tokens": 101}}
    tokens, cost = meter.on_stream_event(delta)
    assert tokens == 100 and cost == pytest.approx(100 * 15 / 1e6)
    assert meter.on_stream_event({"type": "content_block_delta"}) == (0, 0.0)
    tokens, cost = meter.on_result(
        {"usage": {"input_tokens": 1500, "output_tokens": 101}, "total_cost_usd": 0.01}
    )
    assert tokens == 0 and meter.reported_cost == 0.01 and cost == pytest.approx(0.01 - 0.006015)


def test_a_long_answer_is_counted_while_it_streams() -> None:
    meter = Meter()
    meter.on_stream_event(
        {
            "type": "message_start",
            "message": {"id": "m1", "model": "claude-haiku-4-5", "usage": {"input_tokens": 10}},
        }
    )
    small = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x" * 100}}
    assert meter.on_stream_event(small) == (0, 0.0)  # under one reporting step
    big = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x" * 400}}
    assert meter.on_stream_event(big)[0] == 125  # (100 + 400) / 4 characters a token
    end = {"type": "message_delta", "usage": {"output_tokens": 100}}
    assert meter.on_stream_event(end)[0] == -25  # the real count replaces the estimate
    assert meter.reported_tokens == 110


def test_unknown_models_are_priced_as_the_dearest() -> None:
    assert price_of("claude-haiku-4-5") == (1.0, 5.0)
    assert price_of("claude-opus-4-1-20250805") == (15.0, 75.0)
    assert price_of("claude-opus-4-8") == (5.0, 25.0)
    assert price_of("some-new-model") == (15.0, 75.0)


def test_tool_uses_pair_with_their_results() -> None:
    tools = Tools(cwd="/w/t")
    lines = tools.started(
        {
            "message": {
                "content": [
                    {"type": "text", "text": "hi"},
                    {
                        "type": "tool_use",
                        "id": "u1",
                        "name": "Edit",
                        "input": {"file_path": "/w/t/a.py"},
                    },
                    {
                        "type": "tool_use",
                        "id": "u2",
                        "name": "Bash",
                        "input": {"command": "make\ntest"},
                    },
                ]
            }
        },
        now=10.0,
    )
    assert lines == ["tool Edit: a.py", "tool Bash: make test"]
    calls = tools.finished(
        {
            "message": {
                "content": [
                    {"type": "tool_result", "tool_use_id": "u2", "is_error": True},
                    {"type": "tool_result", "tool_use_id": "u1"},
                ]
            }
        },
        now=10.25,
    )
    assert [c.to_dict() for c in calls] == [
        {"tool": "Bash", "summary": "make test", "outcome": "error", "duration_ms": 250},
        {"tool": "Edit", "summary": "a.py", "outcome": "ok", "duration_ms": 250},
    ]
    assert summarize("Grep", {"pattern": "TODO"}) == "TODO"
    assert len(summarize("Write", {"content": "x" * 999})) == 200


def test_log_lines_and_live_text() -> None:
    assert log_line({"type": "stream_event", "event": {}}) is None
    assert (
        log_line({"type": "result", "subtype": "success", "num_turns": 2, "total_cost_usd": 0.5})
        == "result: success after 2 turns, cost $0.5000"
    )
    live = LiveText()
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 9}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Do"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ne"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        },
    ]
    assert "".join(live.text_of(e) for e in events) == (
        "model call: 9 input tokens\nassistant: Done\n"
        "model call ended (end_turn): 2 output tokens\n"
    )


def test_a_missing_claude_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="npm install -g @anthropic-ai/claude-code"):
        find_claude({"PATH": str(tmp_path)})
    with pytest.raises(RunnerError, match="HOUSTON_CLAUDE names"):
        find_claude({"HOUSTON_CLAUDE": str(tmp_path / "nope"), "PATH": ""})
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_claude({"PATH": str(tmp_path)}) == str(fake)


def _session(result: dict[str, Any] | None) -> Session:
    session = Session.__new__(Session)
    session.result = result
    return session


def _job(tmp_path: Path, agent: dict[str, Any]) -> Job:
    return Job(
        mission_id="m",
        task_id="t",
        attempt=1,
        agent_ref="p/a",
        agent=agent,
        prompt="",
        package_dir=str(tmp_path),
        inputs={},
        mission_dir=str(tmp_path),
        attempt_dir=str(tmp_path),
    )


def test_the_final_result_becomes_the_outcome(tmp_path: Path) -> None:
    done = {"result": "ok", "session_id": "s", "num_turns": 2, "total_cost_usd": 0.1}
    assert outcome_of(_job(tmp_path, {}), _session(done), 0).result == {
        "text": "ok",
        "session_id": "s",
        "num_turns": 2,
        "cost": 0.1,
    }
    as_json = {"result": '```json\n{"fixed": 3}\n```'}
    assert outcome_of(_job(tmp_path, {"output": "json"}), _session(as_json), 0).result == {
        "fixed": 3
    }
    not_json = outcome_of(_job(tmp_path, {"output": "json"}), _session({"result": "no"}), 0)
    assert not not_json.ok and "not a JSON object" in str(not_json.error)
    killed = outcome_of(_job(tmp_path, {}), _session(None), -9)
    assert killed.signal == 9 and not killed.ok
    failed = outcome_of(
        _job(tmp_path, {}), _session({"is_error": True, "subtype": "error_max_turns"}), 1
    )
    assert not failed.ok and "error_max_turns" in str(failed.error)


def test_a_session_is_found_and_copied_for_the_new_working_folder(tmp_path: Path) -> None:
    from houston.runners.claude_resume import prepare_resume, project_folder

    assert project_folder("/h/.houston/worktrees/m_1/a/2") == "-h--houston-worktrees-m-1-a-2"
    attempts = tmp_path / "attempts"
    for number in (1, 2, 3):
        (attempts / str(number)).mkdir(parents=True)
    (attempts / "1" / "claude-session.json").write_text('{"session_id": "abc-1"}')
    old = tmp_path / "cfg" / "projects" / "-w-a-1" / "abc-1.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text('{"type": "user"}\n')
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    assert prepare_resume(str(attempts / "3"), "/w/a/3", env) == "abc-1"
    assert (tmp_path / "cfg" / "projects" / "-w-a-3" / "abc-1.jsonl").read_text() == old.read_text()
    assert prepare_resume(str(attempts / "1"), "/w/a/1", env) is None  # nothing before it
