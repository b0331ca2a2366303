"""Runners: argv and result rules of `command`, entrypoints of `python`, the worker protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from houston.core.errors import RunnerError
from houston.runners import Job, get_runner
from houston.runners.command import InvalidResult, build_argv, parse_result
from houston.runners.python import load_entrypoint


def job(tmp_path: Path, agent: dict[str, Any], inputs: dict[str, Any]) -> Job:
    attempt = tmp_path / "m" / "tasks" / "a" / "attempts" / "1"
    attempt.mkdir(parents=True, exist_ok=True)
    return Job(
        mission_id="m",
        task_id="a",
        attempt=1,
        agent_ref="p/a",
        agent=agent,
        prompt="",
        package_dir=str(tmp_path / "pkg"),
        inputs=inputs,
        mission_dir=str(tmp_path / "m"),
        attempt_dir=str(attempt),
    )


def test_argv_comes_from_the_agent_or_the_inputs(tmp_path: Path) -> None:
    agent = {"runner": "command", "command": ["tool", "{package_dir}/x"]}
    assert build_argv(job(tmp_path, agent, {"args": ["-v"]})) == [
        "tool",
        f"{tmp_path / 'pkg'}/x",
        "-v",
    ]
    shell = {"runner": "command"}
    assert build_argv(job(tmp_path, shell, {"command": "echo hi"})) == ["/bin/sh", "-c", "echo hi"]
    assert build_argv(job(tmp_path, shell, {"argv": ["true"]})) == ["true"]
    with pytest.raises(RunnerError, match="no command"):
        build_argv(job(tmp_path, shell, {}))


def test_result_file_wins_over_stdout(tmp_path: Path) -> None:
    result, stdout = tmp_path / "r.json", tmp_path / "out.log"
    stdout.write_text('noise\n{"from": "stdout"}\n')
    assert parse_result(result, stdout) == {"from": "stdout"}
    result.write_text('{"from": "file"}')
    assert parse_result(result, stdout) == {"from": "file"}
    stdout.write_text("not json\n")
    assert parse_result(tmp_path / "none", stdout) == {}


def test_a_result_file_that_is_not_a_json_object_is_refused(tmp_path: Path) -> None:
    result, stdout = tmp_path / "r.json", tmp_path / "out.log"
    stdout.write_text('{"from": "stdout"}\n')
    for text, said in (
        ('{"a": 1', "invalid JSON"),
        ("", "invalid JSON"),
        ("[1, 2]", "JSON list, not an object"),
    ):
        result.write_text(text)
        with pytest.raises(InvalidResult, match=said):
            parse_result(result, stdout)


def test_python_entrypoints_are_loaded_per_package_folder(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.py").write_text(f"def run(ctx):\n    return '{name}'\n")
    assert load_entrypoint("main:run", tmp_path / "one")(None) == "one"
    assert load_entrypoint("main:run", tmp_path / "two")(None) == "two"
    with pytest.raises(RunnerError, match="no function"):
        load_entrypoint("main:nope", tmp_path / "one")
    with pytest.raises(RunnerError, match="cannot import"):
        load_entrypoint("surely_not_a_module_xyz:f", tmp_path / "one")


def test_unknown_runner_is_a_clear_error() -> None:
    with pytest.raises(RunnerError, match="unknown runner"):
        get_runner("telepathy")


@pytest.mark.process
def test_a_worker_runs_jobs_and_reports_over_its_pipe(tmp_path: Path) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "houston.engine.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        assert json.loads(worker.stdout.readline())["type"] == "ready"
        missing = job(tmp_path, {"runner": "command"}, {"argv": ["no-such-binary-xyz"]})
        echo = job(tmp_path, {"runner": "command"}, {"command": "echo '{\"ok\": 1}'"})
        broken = job(
            tmp_path,
            {"runner": "command"},
            {"command": 'echo \'{"ok": 1}\'; echo "{oops" > "$HOUSTON_RESULT"'},
        )
        for item in (missing, echo, broken):
            worker.stdin.write((json.dumps(item.to_dict()) + "\n").encode())
        worker.stdin.flush()
        messages = [json.loads(worker.stdout.readline()) for _ in range(3)]
    finally:
        worker.stdin.close()
        worker.wait(timeout=10)
        worker.stdout.close()
    done = [m for m in messages if m["type"] == "done"]
    assert not done[0]["ok"] and "executable not found" in done[0]["error"]
    assert done[1]["ok"] and done[1]["result"] == {"ok": 1}
    assert not done[2]["ok"] and "$HOUSTON_RESULT holds invalid JSON" in done[2]["error"]
    assert [m["type"] for m in messages] == ["done", "done", "done"]
    agent = json.loads((Path(echo.attempt_dir) / "agent.json").read_text())
    assert agent["pid"] > 0 and agent["start_token"]
