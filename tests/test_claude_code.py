"""The claude-code runner with the real Claude Code CLI against a scripted Messages API."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from helpers.anthropic_stub import Step, Stub, start, stop, text, tool_use
from helpers.claude import (
    CODER,
    claude_environment,
    events_of,
    git,
    make_coding_package,
    make_repo,
)
from helpers.engine import REPO, engine_thread, outcome, run_engine, state_of, submit, wait_for

from houston import actions
from houston.cli.main import cli
from houston.home import attemptfiles, taskfiles
from houston.home.gates import gate_state
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stub]:
    server = start(Stub())
    claude_environment(monkeypatch, server.base_url, tmp_path)
    yield server
    stop(server)


def test_files_land_on_the_attempts_branch_and_spend_is_counted(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    before = git(repo, "rev-parse", "HEAD").strip()
    stub.scripts["write"] = [
        Step([text("writing"), tool_use("Write", file_path="{cwd}/notes.txt", content="hello\n")]),
        Step([tool_use("Bash", command="echo more > extra.txt", description="add a file")]),
        Step([text("All done.")]),
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: write notes
        repo: {repo}
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "Write the notes [script:write]"}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    result = taskfiles.read_result(path, "a")
    assert result is not None
    assert result["text"] == "All done."
    assert result["branch"] == f"houston/{ref.id}/tasks/a/1"
    assert result["base"] == before and result["files"] == ["extra.txt", "notes.txt"]
    assert git(repo, "show", f"{result['commit']}:notes.txt") == "hello\n"
    assert git(repo, "rev-parse", "main").strip() == before  # the user's branch is untouched
    assert not (repo / "notes.txt").exists()
    tools = [
        (e["data"]["tool"], e["data"]["summary"], e["data"]["outcome"])
        for e in events_of(home, "tool.call")
    ]
    assert tools == [("Write", "notes.txt", "ok"), ("Bash", "echo more > extra.txt", "ok")]
    session = json.loads((taskfiles.attempt_dir(path, "a", 1) / "claude-session.json").read_text())
    assert session["num_turns"] == 3 and session["session_id"]
    status = MissionStore(home).status(MissionStore(home).locate(ref.id))
    assert status["usage"]["cost"] == pytest.approx(session["cost_usd"])
    assert status["usage"]["tokens"] >= 450
    log = (taskfiles.attempt_dir(path, "a", 1) / "stdout.log").read_text()
    assert "tool Write ok" in log and "result: success after 3 turns" in log
    assert "assistant: writing\n" in log and "assistant: All done.\n" in log
    assert "model call ended (end_turn): 50 output tokens" in log
    spent = json.loads((taskfiles.attempt_dir(path, "a", 1) / "usage.json").read_text())
    assert spent["model"] == session["model"] and spent["model"].startswith("claude-")
    assert spent["input_tokens"] == _claude_input(session["usage"])
    assert spent["output_tokens"] == session["usage"]["output_tokens"] >= 150
    answer = CliRunner().invoke(cli, ["--home", str(home.root), "costs", "--by", "model", "--json"])
    row = json.loads(answer.output)["rows"][0]
    assert (row["model"], row["input_tokens"], row["output_tokens"], row["cost"]) == (
        spent["model"],
        spent["input_tokens"],
        spent["output_tokens"],
        pytest.approx(session["cost_usd"]),
    )


def _claude_input(usage: dict[str, int]) -> int:
    return sum(
        int(usage.get(key) or 0)
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )


def test_a_task_sees_the_results_it_needs_and_the_mission_context(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    stub.scripts["first"] = [
        Step([tool_use("Bash", command="echo 1 > one.txt", description="one")]),
        Step([text("first done")]),
    ]
    stub.scripts["second"] = [Step([text("second done")])]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: chained
        repo: {repo}
        context: Keep changes small.
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "[script:first]"}}}}
          - {{id: b, agent: c/coder, needs: [a], inputs: {{prompt: "[script:second]", n: 7}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    first = taskfiles.read_result(path, "a")
    assert first is not None
    prompt = (taskfiles.attempt_dir(path, "b", 1) / "prompt.md").read_text()
    assert first["branch"] in prompt and first["commit"] in prompt
    assert '"n": 7' in prompt and "Keep changes small." in prompt
    system = json.dumps([r.get("system") for r in stub.requests])
    assert "You change files in the repository you are started in." in system
    second = taskfiles.read_result(path, "b")
    assert second is not None and second["files"] == [] and second["base"] == first["base"]


def test_going_over_the_budget_stops_claude_mid_session_and_keeps_its_work(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    stub.scripts["spend"] = [
        Step(
            [tool_use("Write", file_path="{cwd}/half.txt", content="half\n")],
            input_tokens=100,
            output_tokens=10,
        ),
        Step(
            [tool_use("Bash", command="echo never > never.txt", description="x")],
            input_tokens=400,
            output_tokens=10,
        ),
        Step([text("never reached")]),
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: over budget
        repo: {repo}
        tasks:
          - id: a
            agent: c/coder
            budget: {{max_cost: 0.001}}
            inputs: {{prompt: "[script:spend]"}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    path = MissionStore(home).locate(ref.id).path
    exit_info = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert exit_info is not None and exit_info.reason == "budget_exceeded"
    assert len(stub.requests) == 2  # stopped while its second model call streamed
    stops = events_of(home, "budget.stop")
    assert stops and stops[0]["data"]["kind"] == "cost"
    kept = json.loads((taskfiles.attempt_dir(path, "a", 1) / "workspace.json").read_text())
    assert kept["state"] == "wip" and Path(kept["worktree"]).is_dir()
    assert git(repo, "show", f"{kept['branch']}:half.txt") == "half\n"
    assert "WIP" in git(repo, "log", "-1", "--format=%s", kept["branch"])
    assert not (Path(kept["worktree"]) / "never.txt").exists()


def test_a_budget_stops_one_long_answer_while_it_streams(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    # 40,000 characters are about 10,000 output tokens; the budget allows 2,000 tokens.
    stub.scripts["long"] = [
        Step([text("word " * 8000)], input_tokens=100, output_tokens=10_000, chunk=200)
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: long answer
        repo: {repo}
        tasks:
          - id: a
            agent: c/coder
            budget: {{max_tokens: 2000}}
            inputs: {{prompt: "[script:long]"}}
    """,
    )
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    exit_info = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert exit_info is not None and exit_info.reason == "budget_exceeded"
    stops = events_of(home, "budget.stop")
    assert stops and stops[0]["data"]["kind"] == "tokens"
    assert stops[0]["data"]["spent"] < 10_000  # stopped before the answer's end was counted


def test_conflicting_branches_make_core_merge_fail_naming_the_files(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    for name, file, body in (
        ("one", "README.md", "# one\n"),
        ("two", "README.md", "# two\n"),
        ("three", "other.txt", "three\n"),
    ):
        # Claude Code writes over a file only after reading it.
        stub.scripts[name] = [
            Step([tool_use("Read", file_path="{cwd}/README.md")]),
            Step([tool_use("Write", file_path="{cwd}/" + file, content=body)]),
            Step([text(f"{name} done")]),
        ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: conflicting
        repo: {repo}
        on_failure: continue
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "[script:one]"}}}}
          - {{id: b, agent: c/coder, inputs: {{prompt: "[script:two]"}}}}
          - {{id: c, agent: c/coder, inputs: {{prompt: "[script:three]"}}}}
          - {{id: merge, agent: core/merge, needs: [a, b, c]}}
    """,
    )
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    state = state_of(path, "merge")
    assert state.state == "failed"
    assert state.error is not None
    assert "README.md" in state.error and f"houston/{ref.id}/tasks/b/1" in state.error
    integration = f"houston/{ref.id}/integration"
    assert git(repo, "show", f"{integration}:README.md") == "# one\n"
    assert git(repo, "show", f"{integration}:other.txt") == "three\n"
    assert git(repo, "status", "--porcelain") == ""  # the user's checkout never took part


def _claude_pid(path: Path, task: str, attempt: int) -> int:
    record = attemptfiles.read_agent(taskfiles.attempt_dir(path, task, attempt))
    assert record is not None, "the runner registers claude before it reads a line"
    return record.pid


def _running(marker: str) -> list[psutil.Process]:
    """Processes whose command line ends with `marker` (a unique sleep of a Bash tool)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if " ".join(proc.info["cmdline"] or []).endswith(marker):
            found.append(proc)
    return found


def test_kill_9_of_claude_is_a_crash_retried_in_a_new_worktree_keeping_the_old(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = f"sleep 2{os.getpid() % 1000}.75"
    stub.scripts["crash"] = [
        Step([tool_use("Write", file_path="{cwd}/draft.txt", content="draft\n")]),
        # Only the first attempt's tool waits (its worktree ends in /a/1).
        Step(
            [tool_use("Bash", command=f'case "$PWD" in */a/1) {marker};; esac', description="wait")]
        ),
        Step([text("finished")]),
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: killed
        repo: {repo}
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "[script:crash]"}}}}
    """,
    )
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}):
        wait_for(lambda: _running(marker), 60, "claude's Bash tool to run")
        os.kill(_claude_pid(store.locate(ref.id).path, "a", 1), signal.SIGKILL)
        wait_for(lambda: not _running(marker), 10, "the tool's process to be stopped too")
        wait_for(lambda: store.locate(ref.id).state.value == "COMPLETED", 60, "the end")
    path = store.locate(ref.id).path
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    first = attemptfiles.read_exit(taskfiles.attempt_dir(path, "a", 1))
    assert first is not None and first.reason == "crashed"
    old = json.loads((taskfiles.attempt_dir(path, "a", 1) / "workspace.json").read_text())
    result = taskfiles.read_result(path, "a")
    assert result is not None and result["worktree"] != old["worktree"]
    assert result["branch"].endswith("/tasks/a/2") and old["branch"].endswith("/tasks/a/1")
    assert old["state"] == "wip" and Path(old["worktree"], "draft.txt").is_file()
    assert git(repo, "show", f"{old['branch']}:draft.txt") == "draft\n"
    listed = git(repo, "worktree", "list", "--porcelain")
    assert old["worktree"] in listed and result["worktree"] in listed
    assert "prunable" not in listed and "locked" not in listed


def test_cancel_stops_claude_within_a_second(home: Home, stub: Stub, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    stub.scripts["wait"] = [
        Step([tool_use("Bash", command="echo started > started.txt", description="x")]),
        Step([text("never")], pause=True),
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: cancelled
        repo: {repo}
        tasks:
          - {{id: a, agent: c/coder, inputs: {{prompt: "[script:wait]"}}}}
    """,
    )
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}):
        wait_for(stub.paused.is_set, 60, "claude's second model call")
        claude = psutil.Process(_claude_pid(store.locate(ref.id).path, "a", 1))
        asked = time.monotonic()
        actions.cancel(store, ref.id)
        claude.wait(timeout=10)
        took = time.monotonic() - asked
        wait_for(lambda: store.locate(ref.id).state.value == "COMPLETED", 30, "the end")
    assert took < 1.0, f"claude outlived the cancel by {took:.2f} s"
    assert outcome(home, ref) == ("COMPLETED", "cancelled")
    kept = json.loads(
        (taskfiles.attempt_dir(store.locate(ref.id).path, "a", 1) / "workspace.json").read_text()
    )
    assert kept["state"] == "wip" and git(repo, "show", f"{kept['branch']}:started.txt")


def test_the_todo_sweep_example_fixes_each_todo_on_its_branch_and_merges_them(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    import yaml

    repo = make_repo(
        tmp_path / "repo",
        {
            "src/a.py": "# TODO [script:fix-a] add a greeting\n",
            "src/b.py": "x = 1\n# TODO [script:fix-b] add a counter\n",
            "README.md": "# demo\n",
        },
    )
    for name, file, old, new in (
        ("fix-a", "src/a.py", "# TODO [script:fix-a] add a greeting", "GREETING = 'hello'"),
        ("fix-b", "src/b.py", "# TODO [script:fix-b] add a counter", "COUNTER = 0"),
    ):
        stub.scripts[name] = [
            Step([tool_use("Read", file_path="{cwd}/" + file)]),
            Step([tool_use("Edit", file_path="{cwd}/" + file, old_string=old, new_string=new)]),
            Step([text(f"Resolved the TODO in {file}.")]),
        ]
    mission = yaml.safe_load((REPO / "missions" / "todo-sweep.yaml").read_text())
    mission["repo"] = str(repo)
    ref = submit(home, yaml.safe_dump(mission))
    with engine_thread(home, missions={ref.id}) as engine:
        # The reviewer's moment: both branches are done and the merge waits at its gate.
        wait_for(
            lambda: gate_state(MissionStore(home).locate(ref.id).path, "merge") == "waiting",
            timeout=120,
            what="the merge waiting at its gate",
        )
        path = MissionStore(home).locate(ref.id).path
        assert taskfiles.read_result(path, "merge") is None
        actions.decide_task(MissionStore(home), ref.id, "merge", "approved")
        wait_for(lambda: ref.id in engine.finished, timeout=60, what="the mission to finish")
    path = MissionStore(home).locate(ref.id).path
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    plan = taskfiles.read_result(path, "init")
    assert plan is not None and [t["file"] for t in plan["todos"]] == ["src/a.py", "src/b.py"]
    fixes = [taskfiles.read_result(path, f"todo-{n}") for n in (0, 1)]
    assert [f["files"] for f in fixes if f] == [["src/a.py"], ["src/b.py"]]
    merged = taskfiles.read_result(path, "merge")
    assert merged is not None and merged["merged"] == [f["branch"] for f in fixes if f]
    integration = merged["branch"]
    assert git(repo, "show", f"{integration}:src/a.py") == "GREETING = 'hello'\n"
    assert git(repo, "show", f"{integration}:src/b.py") == "x = 1\nCOUNTER = 0\n"
    assert "TODO" in (repo / "src" / "a.py").read_text()  # the user's checkout is untouched


def test_a_timeout_stops_claude_and_everything_it_started(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = f"sleep 1{os.getpid() % 1000}.25"
    stub.scripts["slow"] = [
        Step([tool_use("Bash", command=marker, description="wait", timeout=600000)]),
        Step([text("never")]),
    ]
    make_coding_package(home)
    ref = submit(
        home,
        f"""
        name: timed out
        repo: {repo}
        tasks:
          - {{id: a, agent: c/coder, timeout: 8s, inputs: {{prompt: "[script:slow]"}}}}
    """,
    )

    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}):
        wait_for(lambda: _running(marker), 60, "the Bash tool's command to start")
        wait_for(lambda: store.locate(ref.id).state.value == "COMPLETED", 60, "the timeout")
    assert outcome(home, ref) == ("COMPLETED", "failed")
    exit_info = attemptfiles.read_exit(taskfiles.attempt_dir(store.locate(ref.id).path, "a", 1))
    assert exit_info is not None and exit_info.reason == "timeout"
    wait_for(lambda: not _running(marker), 5, "the tool's process to be gone")


def test_a_missing_claude_fails_the_attempt_saying_how_to_install_it(
    home: Home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HOUSTON_CLAUDE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no claude anywhere on it
    make_coding_package(
        home,
        {
            "plain": CODER.format(extra="")
            .replace("workspace: worktree\n", "")
            .replace("name: coder", "name: plain")
        },
    )
    ref = submit(
        home,
        """
        name: no claude
        tasks:
          - {id: a, agent: c/plain, inputs: {prompt: hello}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    state = state_of(MissionStore(home).locate(ref.id).path, "a")
    assert state.error is not None
    assert "not installed" in state.error and "@anthropic-ai/claude-code" in state.error


def test_a_retry_resumes_the_crashed_attempts_session_when_asked(
    home: Home, stub: Stub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = f"sleep 3{os.getpid() % 1000}.75"
    stub.scripts["resume"] = [
        Step([tool_use("Write", file_path="{cwd}/draft.txt", content="draft\n")]),
        Step(
            [tool_use("Bash", command=f'case "$PWD" in */a/1) {marker};; esac', description="wait")]
        ),
        Step([text("finished")]),
    ]
    make_coding_package(
        home,
        {"resumer": CODER.format(extra="resume: true\n").replace("name: coder", "name: resumer")},
    )
    ref = submit(
        home,
        f"""
        name: resumed
        repo: {repo}
        tasks:
          - {{id: a, agent: c/resumer, inputs: {{prompt: "[script:resume]"}}}}
    """,
    )
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}):
        wait_for(lambda: _running(marker), 60, "claude's Bash tool to run")
        os.kill(_claude_pid(store.locate(ref.id).path, "a", 1), signal.SIGKILL)
        wait_for(lambda: store.locate(ref.id).state.value == "COMPLETED", 60, "the end")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    second = [r for r in stub.requests if "/a/2" in json.dumps(r.get("system"))]
    assert second, "the second attempt asked the model"
    turns = [m["role"] for m in second[0]["messages"]]
    assert "assistant" in turns  # the first attempt's conversation went on
    path = store.locate(ref.id).path
    assert (
        "ended before it finished"
        in (taskfiles.attempt_dir(path, "a", 2) / "prompt.md").read_text()
    )


def test_max_turns_reaches_claude_code(home: Home, stub: Stub, tmp_path: Path) -> None:
    stub.scripts["turns"] = [
        Step([tool_use("Bash", command="echo one", description="one")]),
        Step([tool_use("Bash", command="echo two", description="two")]),
        Step([text("never")]),
    ]
    make_coding_package(
        home,
        {
            "short": CODER.format(extra="maxTurns: 1\n")
            .replace("workspace: worktree\n", "")
            .replace("name: coder", "name: short")
        },
    )
    ref = submit(
        home,
        f"""
        name: short
        tasks:
          - {{id: a, agent: c/short, inputs: {{prompt: "[script:turns]", cwd: "{tmp_path}"}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    state = state_of(MissionStore(home).locate(ref.id).path, "a")
    assert state.error is not None and "max_turns" in state.error
    assert len(stub.requests) < 3
