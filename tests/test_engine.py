"""The engine end to end with real worker processes: DAG, retries, timeouts, failure modes,
cancel, budgets, fan-out, blackboard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest
from helpers.engine import (
    QUICK_UNDER_LOAD,
    REPO,
    engine_thread,
    exit_of,
    lines,
    make_test_package,
    outcome,
    run_engine,
    state_of,
    submit,
    wait_for,
)

from houston.home import claims, taskfiles
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.views.tasks import read_tasks

pytestmark = pytest.mark.process


def test_hello_mission_succeeds_and_writes_its_report(home: Home) -> None:
    ref = submit(home, (REPO / "missions" / "hello.yaml").read_text())
    finished = run_engine(home, ref)
    assert finished[ref.id][0].value == "succeeded"
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    done = MissionStore(home).locate(ref.id)
    report = json.loads((done.path / "outputs" / "hello.json").read_text())
    assert report["greet"] == {"greeting": "hello"}
    status = MissionStore(home).status(done)
    assert status["counts"]["succeeded"] == 4
    types = {e["type"] for e in EventLog(home.events).read()}
    assert {
        "mission.state",
        "task.state",
        "attempt.start",
        "attempt.end",
        "worker.state",
        "engine.state",
        "attempt.log",
    } <= types


def test_needs_order_is_respected(home: Home, tmp_path: Path) -> None:
    make_test_package(home)
    runs = tmp_path / "runs"
    ref = submit(
        home,
        f"""
        name: chain
        tasks:
          - {{id: c, agent: t/record, needs: [b], inputs: {{file: "{runs}"}}}}
          - {{id: b, agent: t/record, needs: [a], inputs: {{file: "{runs}"}}}}
          - {{id: a, agent: t/record, inputs: {{file: "{runs}"}}}}
    """,
    )
    run_engine(home, ref)
    assert lines(runs) == ["a", "b", "c"]


def test_failed_attempts_retry_as_new_attempts(home: Home) -> None:
    make_test_package(home)
    ref = submit(
        home,
        """
        name: flaky
        tasks:
          - {id: f, agent: t/flaky, retries: 3, inputs: {succeed_on: 3}}
    """,
    )
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert taskfiles.attempt_numbers(path, "f") == [1, 2, 3]
    reasons = [exit_of(taskfiles.attempt_dir(path, "f", n)).reason for n in (1, 2, 3)]
    assert reasons == ["failed", "failed", "succeeded"]
    assert "fails on purpose" in (taskfiles.attempt_dir(path, "f", 1) / "stderr.log").read_text()
    # Each attempt keeps the lock it held, released into it as claim/owner.json.
    owners = [
        json.loads((taskfiles.attempt_dir(path, "f", n) / "claim" / "owner.json").read_text())
        for n in (1, 2, 3)
    ]
    assert [o["attempt"] for o in owners] == [1, 2, 3] and len({o["nonce"] for o in owners}) == 3
    assert all(o["slot"] >= 1 for o in owners)
    assert not claims.is_locked(taskfiles.task_dir(path, "f"))
    assert state_of(path, "f").failures == 2


def test_fail_fast_stops_the_mission_and_continue_keeps_going(home: Home) -> None:
    make_test_package(home)
    text = """
        name: {name}
        on_failure: {mode}
        tasks:
          - {{id: bad, agent: core/shell, inputs: {{command: "exit 3"}}}}
          - {{id: after, agent: core/shell, needs: [bad], inputs: {{command: "true"}}}}
          - {{id: other, agent: core/shell, inputs: {{command: "sleep 0.3"}}}}
    """
    fast = submit(home, text.format(name="fast", mode="fail_fast"))
    run_engine(home, fast)
    assert outcome(home, fast) == ("COMPLETED", "failed")
    cont = submit(home, text.format(name="cont", mode="continue"))
    run_engine(home, cont)
    path = MissionStore(home).locate(cont.id).path
    assert outcome(home, cont) == ("COMPLETED", "failed")
    rows = {row["id"]: row for row in read_tasks(path)}
    assert rows["other"]["state"] == "succeeded"
    assert rows["after"]["state"] == "skipped"
    assert "code 3" in rows["bad"]["error"]


def test_timeout_stops_the_whole_process_group(home: Home, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    ref = submit(
        home,
        f"""
        name: slow
        tasks:
          - id: slow
            agent: core/shell
            timeout: 1s
            inputs: {{command: "sleep 60 & echo $! >> {pids}; echo $$ >> {pids}; wait"}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    path = MissionStore(home).locate(ref.id).path
    assert exit_of(taskfiles.attempt_dir(path, "slow", 1)).reason == "timeout"
    for pid in map(int, lines(pids)):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_cancel_request_stops_a_running_mission(home: Home, tmp_path: Path) -> None:
    from houston import actions

    ref = submit(
        home,
        """
        name: long
        tasks:
          - {id: a, agent: core/shell, inputs: {command: "sleep 60"}}
          - {id: b, agent: core/shell, needs: [a], inputs: {command: "true"}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        store = MissionStore(home)
        wait_for(lambda: store.locate(ref.id).state.value == "EXECUTING", what="claim")
        wait_for(lambda: claims.read_owner(taskfiles.task_dir(store.locate(ref.id).path, "a")))
        record = home.run / f"engine-{os.getpid()}.json"
        assert json.loads(record.read_text())["missions"] == [ref.id]
        actions.cancel(store, ref.id)
        wait_for(lambda: ref.id in engine.finished, what="cancelled mission")
    assert outcome(home, ref) == ("COMPLETED", "cancelled")
    path = MissionStore(home).locate(ref.id).path
    assert state_of(path, "b").state == "cancelled"
    assert not record.exists()


def test_cancel_while_quick_tasks_are_queued_in_workers(home: Home, tmp_path: Path) -> None:
    """Quick tasks sit queued in the workers' pipes when the cancel comes: the mission is
    cancelled at once, no task runs twice, and what did not run stays without a result."""
    from houston import actions

    make_test_package(home)
    runs = tmp_path / "runs"
    tasks = "".join(
        f'  - {{id: q{i:03d}, agent: t/record, inputs: {{file: "{runs}"}}}}\n' for i in range(400)
    )
    ref = submit(home, f"name: many quick\ntasks:\n{tasks}")
    store = MissionStore(home)
    with engine_thread(home, missions={ref.id}, retract_after=3.0, **QUICK_UNDER_LOAD) as engine:
        wait_for(
            lambda: any(len(engine.queues.jobs(w)) > 1 for w in list(engine.pool.workers.values())),
            what="a job queued behind another",
        )
        actions.cancel(store, ref.id)
        wait_for(lambda: ref.id in engine.finished, what="the cancelled mission")
    assert outcome(home, ref) == ("COMPLETED", "cancelled")
    ran = lines(runs)
    assert len(ran) == len(set(ran)) < 400
    rows = {row["id"]: row for row in read_tasks(store.locate(ref.id).path)}
    assert {i for i, row in rows.items() if row["state"] == "succeeded"} <= set(ran)
    odd = [
        (i, r["state"], r["attempt"])
        for i, r in rows.items()
        if r["state"] not in ("succeeded", "cancelled")
    ]
    assert not odd  # each was either done or cancelled: none left running or pending


def test_budget_exceeded_fails_closed(home: Home) -> None:
    make_test_package(home)
    ref = submit(
        home,
        """
        name: spendy
        budget: {max_tokens: 100}
        tasks:
          - {id: s, agent: t/spend, inputs: {tokens: 30, times: 10, sleep: 0.05}}
          - {id: later, agent: core/shell, needs: [s], inputs: {command: "true"}}
    """,
    )
    finished = run_engine(home, ref)
    assert finished[ref.id][1].value == "budget_exceeded"
    events = list(EventLog(home.events).read())
    assert any(e["type"] == "budget.warn" for e in events)
    assert any(e["type"] == "budget.stop" for e in events)
    status = MissionStore(home).status(MissionStore(home).locate(ref.id))
    assert 100 < status["usage"]["tokens"] < 300  # stopped before it could spend it all


def test_initializer_fans_out_and_collect_gathers(home: Home) -> None:
    ref = submit(
        home,
        """
        name: fan
        initializer:
          agent: core/fanout
          inputs:
            items: [1, 2, 3]
            template: {agent: core/shell, inputs: {command: "echo '{\\"n\\": {{item}}}'"}}
            collect: core/collect
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    results = json.loads((path / "outputs" / "results.json").read_text())
    assert results["item-2"] == {"n": 3}
    spec = taskfiles.read_spec(path, "item-0")
    assert spec is not None and spec.added_by == "init"


def test_blackboard_through_context_and_files(home: Home) -> None:
    make_test_package(home)
    ref = submit(
        home,
        """
        name: board
        tasks:
          - {id: b, agent: t/board, inputs: {tone: warm}}
          - id: reader
            agent: core/shell
            needs: [b]
            inputs: {command: 'cat "$HOUSTON_BLACKBOARD/directives/style.json"'}
    """,
    )
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    assert taskfiles.read_result(path, "b") == {"seen": {"tone": "warm"}}
    reader = taskfiles.read_result(path, "reader")
    assert reader is not None and reader["value"] == {"tone": "warm"}
    decisions = [
        json.loads(x) for x in (path / "blackboard" / "decisions.jsonl").read_text().splitlines()
    ]
    assert decisions[0]["text"] == "use plan B"


def test_retry_reruns_only_unfinished_tasks(home: Home, tmp_path: Path) -> None:
    from houston import actions

    make_test_package(home)
    runs, gate = tmp_path / "runs", tmp_path / "gate"
    ref = submit(
        home,
        f"""
        name: again
        tasks:
          - {{id: ok, agent: t/record, inputs: {{file: "{runs}"}}}}
          - {{id: gated, agent: core/shell, needs: [ok], inputs: {{command: "test -e {gate}"}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    gate.write_text("open")
    actions.retry(MissionStore(home), ref.id)
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    assert lines(runs) == ["ok"]
    path = MissionStore(home).locate(ref.id).path
    assert taskfiles.attempt_numbers(path, "gated") == [1, 2]


def test_max_concurrency_keeps_tasks_apart(home: Home, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    step = f'echo "start $HOUSTON_TASK" >> {trace}; sleep 0.1; echo "end $HOUSTON_TASK" >> {trace}'
    tasks = "\n".join(
        f"  - {{id: t{i}, agent: core/shell, inputs: {{command: '{step}'}}}}" for i in range(3)
    )
    ref = submit(home, f"name: one-at-a-time\nbudget: {{max_concurrency: 1}}\ntasks:\n{tasks}\n")
    run_engine(home, ref, workers=3)
    words = [line.split()[0] for line in trace.read_text().splitlines()]
    assert words == ["start", "end"] * 3


def test_a_task_budget_stops_only_that_task(home: Home) -> None:
    make_test_package(home)
    ref = submit(
        home,
        """
        name: task-budget
        on_failure: continue
        tasks:
          - {id: greedy, agent: t/spend, budget: {max_tokens: 50},
             inputs: {tokens: 20, times: 50, sleep: 0.02}}
          - {id: modest, agent: t/spend, inputs: {tokens: 5}}
    """,
    )
    finished = run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    assert finished[ref.id][1].value == "budget_exceeded"
    exit_ = exit_of(taskfiles.attempt_dir(path, "greedy", 1))
    assert exit_.reason == "budget_exceeded"
    assert taskfiles.attempt_numbers(path, "greedy") == [1]  # budget stops are not retried


def test_an_agent_files_budget_stops_its_task_as_it_spends(home: Home) -> None:
    """A task without a budget of its own has its agent's, in flight as at dispatch."""
    folder = make_test_package(home)
    (folder / "agents" / "capped.md").write_text(
        "---\nname: capped\ndescription: spends, capped by its agent file\n"
        "runner: python\nentrypoint: t_agents:spend\nbudget: {max_tokens: 50}\n---\nSpend.\n"
    )
    ref = submit(
        home,
        """
        name: agent-budget
        tasks:
          - {id: greedy, agent: t/capped, inputs: {tokens: 20, times: 50, sleep: 0.02}}
    """,
    )
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    exit_ = exit_of(taskfiles.attempt_dir(path, "greedy", 1))
    assert exit_.reason == "budget_exceeded", exit_
    assert taskfiles.attempt_numbers(path, "greedy") == [1]
    status = json.loads((path / "status.json").read_text())
    assert 50 < status["usage"]["tokens"] < 1000  # stopped long before its 50 reports


def test_code_health_mission_reports_on_a_folder(home: Home, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "good.py").write_text("def f():\n    # TODO: more\n    return 1\n")
    (project / "bad.py").write_text("def broken(:\n")
    text = (REPO / "missions" / "code-health.yaml").read_text()
    ref = submit(home, text.replace('root: "."', f'root: "{project}"'))
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    report = (MissionStore(home).locate(ref.id).path / "outputs" / "code-health.md").read_text()
    assert "| 2 | 4 |" in report  # two files, four lines
    assert "`bad.py`: line 1" in report
    assert "`f` | `pkg/good.py:1`" in report


def test_cancel_stops_an_in_process_python_agent(home: Home, tmp_path: Path) -> None:
    from houston import actions

    make_test_package(home)
    runs = tmp_path / "runs"
    ref = submit(
        home,
        f"""
        name: long-python
        tasks:
          - {{id: a, agent: t/record, inputs: {{file: "{runs}", sleep: 60}}}}
    """,
    )
    with engine_thread(home, missions={ref.id}) as engine:
        wait_for(lambda: lines(runs) == ["a"], what="the agent to start")
        actions.cancel(MissionStore(home), ref.id)
        wait_for(lambda: ref.id in engine.finished, what="the cancelled mission")
    assert outcome(home, ref) == ("COMPLETED", "cancelled")
    path = MissionStore(home).locate(ref.id).path
    assert exit_of(taskfiles.attempt_dir(path, "a", 1)).reason == "cancelled"
