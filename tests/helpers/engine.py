"""Helpers shared by the engine, recovery and runner tests (no tests of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from houston import actions
from houston.engine.engine import Engine, EngineOptions
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home
from houston.home.records import ExitRecord, StateRecord
from houston.home.store import MissionRef, MissionStore

REPO = Path(__file__).resolve().parents[2]

T_AGENTS = '''
import json, os, time
from pathlib import Path


def record(ctx):
    """Append this task's id to inputs.file (how tests count runs), then maybe sleep, or
    wait (30 s at most) until the file inputs.wait exists."""
    with open(ctx.inputs["file"], "a") as f:
        f.write(ctx.task_id + "\\n")
    time.sleep(float(ctx.inputs.get("sleep", 0)))
    deadline = time.monotonic() + 30
    while ctx.inputs.get("wait") and not os.path.exists(ctx.inputs["wait"]):
        if time.monotonic() > deadline:
            raise TimeoutError(ctx.inputs["wait"])
        time.sleep(0.01)
    return {"task": ctx.task_id, "attempt": ctx.attempt}


def flaky(ctx):
    if ctx.attempt < int(ctx.inputs.get("succeed_on", 2)):
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return {"attempt": ctx.attempt}


def spend(ctx):
    for _ in range(int(ctx.inputs.get("times", 1))):
        ctx.report_usage(tokens=int(ctx.inputs.get("tokens", 0)),
                         cost=float(ctx.inputs.get("cost", 0)))
        time.sleep(float(ctx.inputs.get("sleep", 0)))
    return {"spent": True}


def board(ctx):
    ctx.blackboard.decide("use plan B", why="test")
    ctx.blackboard.set_directive("style", {"tone": ctx.inputs.get("tone", "dry")})
    return {"seen": ctx.blackboard.directive("style")}


def fan(ctx):
    n = int(ctx.inputs["n"])
    return {"add_tasks": [{"id": f"part-{i}", "agent": "t/record",
                           "inputs": {"file": ctx.inputs["file"]}} for i in range(n)]}
'''

AGENTS = {
    "record": "runner: python\nentrypoint: t_agents:record",
    "flaky": "runner: python\nentrypoint: t_agents:flaky",
    "spend": "runner: python\nentrypoint: t_agents:spend",
    "board": "runner: python\nentrypoint: t_agents:board",
    "fan": "runner: python\nentrypoint: t_agents:fan",
}


def make_test_package(home: Home, name: str = "t", version: str = "1.0.0") -> Path:
    """Install a package of test agents the way `houston package install` lays it out."""
    folder = home.packages / name / version
    (folder / "agents").mkdir(parents=True, exist_ok=True)
    (folder / "package.yaml").write_text(f"name: {name}\nversion: {version}\n")
    (folder / f"{name}_agents.py").write_text(T_AGENTS)
    for agent, keys in AGENTS.items():
        text = f"---\nname: {agent}\ndescription: test agent {agent}\n{keys}\n---\nPrompt.\n"
        (folder / "agents" / f"{agent}.md").write_text(text)
    return folder


def submit(home: Home, text: str) -> MissionRef:
    return actions.submit(MissionStore(home), textwrap.dedent(text).encode(), "test.yaml")


# Engine options for tests that need a job queued behind another (pipelining). By default
# only an agent whose attempts took under 50 ms is "quick", a bound a loaded machine
# stretches a no-op attempt past (or the engine's step from starting one job to queueing
# the next behind it): then nothing is ever queued. Such tests are about the queued job,
# not the bound. Give them a `retract_after` above it too, as the defaults are (0.2 s).
QUICK_UNDER_LOAD = {"quick_below": 2.0}


def options(**kw: Any) -> EngineOptions:
    defaults: dict[str, Any] = {"workers": 2, "backoff_base": 0.05, "grace": 0.5}
    defaults.update(kw)
    return EngineOptions(**defaults)


def run_engine(home: Home, ref: MissionRef, **kw: Any) -> dict[str, Any]:
    return Engine(home, options(missions={ref.id}, **kw)).run()


# How long a test waits for what a real process must do (start, claim, run, finish).
# On a loaded 2-core machine (a whole CI run beside other work, load average 15 to 40)
# a `houston serve` took up to 9 s to start its first agents with 15 % of one CPU; 15 s was
# not enough. A long deadline costs nothing while the test passes (the wait returns as
# soon as the state is there) and only delays the report of a real failure.
WAIT = 60.0


@contextmanager
def engine_thread(home: Home, **kw: Any) -> Iterator[Engine]:
    """An engine running in a thread (no signal handlers there); stopped on exit."""
    engine = Engine(home, options(**kw))
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        engine.request_stop(force=True)
        thread.join(timeout=WAIT)
        assert not thread.is_alive(), "the engine did not stop"


def wait_for(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def outcome(home: Home, ref: MissionRef) -> tuple[str, str | None]:
    store = MissionStore(home)
    current = store.locate(ref.id)
    return current.state.value, store.status(current).get("outcome")


def state_of(mission_dir: Path, task_id: str) -> StateRecord:
    """The task's state.json, which the test expects to be there."""
    state = taskfiles.read_state(mission_dir, task_id)
    assert state is not None, f"task {task_id} has no readable state.json"
    return state


def exit_of(attempt_dir: Path) -> ExitRecord:
    """The attempt's exit.json, which the test expects to be there."""
    record = attemptfiles.read_exit(attempt_dir)
    assert record is not None, f"{attempt_dir} has no readable exit.json"
    return record


def houston_process(
    home: Home, *args: str, kill_at: str | None = None, quiet: bool = False
) -> subprocess.Popen[bytes]:
    """`python -m houston --home HOME ARGS` as a real process (its own session, so that
    killing its group kills its workers too); `kill_at` names a kill point
    (houston/home/killpoints.py); `quiet` sends its output nowhere instead of to pipes."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if kill_at:
        env["HOUSTON_TEST_KILL_AT"] = kill_at
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "houston", "--home", str(home.root), *args],
        stdout=output,
        stderr=output,
        env=env,
        start_new_session=True,
    )


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
