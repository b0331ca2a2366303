"""The claude-code runner with the real Claude Code CLI against a scripted Messages API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from anthropic_stub import Step, Stub, start, stop, text, tool_use
from claude_helpers import claude_environment, events_of, git, make_coding_package, make_repo
from test_engine_helpers import outcome, run_engine, submit

from houston.engine import taskfiles as tf
from houston.home import Home
from houston.store import MissionStore

pytestmark = pytest.mark.process


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stub]:
    server = start(Stub())
    claude_environment(monkeypatch, server.base_url, tmp_path)
    yield server
    stop(server)


def test_files_land_on_the_attempts_branch_and_spend_is_counted(
        home: Home, stub: Stub, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = git(repo, "rev-parse", "HEAD").strip()
    stub.scripts["write"] = [
        Step([text("writing"), tool_use("Write", file_path="{cwd}/notes.txt", content="hello\n")]),
        Step([tool_use("Bash", command="echo more > extra.txt", description="add a file")]),
        Step([text("All done.")]),
    ]
    make_coding_package(home)
    ref = submit(home, f"""
        name: write notes
        repo: {repo}
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "Write the notes [script:write]"}}}}
    """)
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    result = tf.read_result(path, "a")
    assert result is not None
    assert result["text"] == "All done."
    assert result["branch"] == f"houston/{ref.id}/tasks/a/1"
    assert result["base"] == before and result["files"] == ["extra.txt", "notes.txt"]
    assert git(repo, "show", f"{result['commit']}:notes.txt") == "hello\n"
    assert git(repo, "rev-parse", "main").strip() == before  # the user's branch is untouched
    assert not (repo / "notes.txt").exists()
    tools = [(e["data"]["tool"], e["data"]["summary"], e["data"]["outcome"])
             for e in events_of(home, "tool.call")]
    assert tools == [("Write", "notes.txt", "ok"), ("Bash", "echo more > extra.txt", "ok")]
    session = json.loads((tf.attempt_dir(path, "a", 1) / "claude-session.json").read_text())
    assert session["num_turns"] == 3 and session["session_id"]
    status = MissionStore(home).status(MissionStore(home).locate(ref.id))
    assert status["usage"]["cost"] == pytest.approx(session["cost_usd"])
    assert status["usage"]["tokens"] >= 450
    log = (tf.attempt_dir(path, "a", 1) / "stdout.log").read_text()
    assert "tool Write ok" in log and "result: success after 3 turns" in log
