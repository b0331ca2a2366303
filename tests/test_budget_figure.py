"""A budget stop's figure: the engine records which budget stopped the mission, its limit
and the amount spent in the closing transition and in status.json (`budget_stop`), and
`houston show` and the dashboard say that figure rather than work one out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from helpers.engine import outcome, run_engine, submit

from houston.cli.main import cli
from houston.core import budget
from houston.core.lifecycle import budget_stop
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.views.explain import end_reason


def shell_spending(tokens: int, cost: float = 0.0) -> str:
    usage = json.dumps({"usage": {"tokens": tokens, "cost": cost}})
    return json.dumps(f"echo '{usage}'")


def test_the_figures_are_pure_data() -> None:
    assert budget.stop_figure("mission", "tokens", 5000.0, 6200.0) == {
        "scope": "mission",
        "kind": "tokens",
        "limit": 5000.0,
        "spent": 6200.0,
    }
    limits = budget.Limits(max_tokens=1000)
    assert budget.room_figure(limits, budget.Usage(300), budget.Usage(), budget.Usage(800)) == {
        "scope": "mission",
        "kind": "tokens",
        "limit": 1000.0,
        "spent": 300.0,
        "needed": 800,
    }
    assert budget.room_figure(limits, budget.Usage(100), budget.Usage(), budget.Usage(800)) == {}
    assert budget_stop("task_failed", {"kind": "tokens"}) is None
    assert budget_stop("budget_exceeded", {"task": "a", "error": "x"}) is None


def test_the_recorded_figure_is_said_not_worked_out() -> None:
    # status.json's usage moved on (a later summary) and the budget says another limit:
    # the words come from what the engine recorded when it stopped.
    status = {
        "state": "COMPLETED",
        "usage": {"tokens": 9999},
        "budget_stop": {"scope": "task:think", "kind": "tokens", "limit": 100.0, "spent": 300.0},
    }
    moved = [{"to": "COMPLETED", "reason": "budget_exceeded", "detail": {"task": "think"}}]
    end = end_reason(status, moved, [], {"max_tokens": 5000})
    assert end is not None
    assert end["text"] == "Budget exceeded: tokens 300 of 100 (the budget of task think)"


def closing(home: Home, mission_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    store = MissionStore(home)
    ref = store.locate(mission_id)
    return store.status(ref), store.transitions(ref)[-1]


def show(home: Home, mission_id: str) -> str:
    """The `ended` line of `houston show`, without its label."""
    answer = CliRunner().invoke(cli, ["--home", str(home.root), "show", mission_id])
    assert answer.exit_code == 0, answer.output
    found = [
        line.split(None, 1)[1] for line in answer.output.splitlines() if line.startswith("ended ")
    ]
    assert len(found) == 1, answer.output
    return found[0]


@pytest.mark.process
def test_a_mission_budget_stop_records_its_limit_and_spend(home: Home) -> None:
    ref = submit(
        home,
        f"""
        name: spendy
        budget: {{max_tokens: 5000}}
        tasks:
          - {{id: think, agent: core/shell, inputs: {{command: {shell_spending(6200, 0.12)}}}}}
          - {{id: after, agent: core/shell, needs: [think], inputs: {{command: 'echo never'}}}}
    """,
    )
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "failed")
    status, last = closing(home, ref.id)
    figure = {"scope": "mission", "kind": "tokens", "limit": 5000.0, "spent": 6200.0}
    assert status["budget_stop"] == figure
    assert last["reason"] == "budget_exceeded" and last["detail"] == figure
    assert show(home, ref.id) == "Budget exceeded: tokens 6,200 of 5,000"


@pytest.mark.process
def test_a_task_budget_stop_names_the_task_and_its_limit(home: Home) -> None:
    ref = submit(
        home,
        f"""
        name: task-spendy
        tasks:
          - id: think
            agent: core/shell
            budget: {{max_cost: 0.05}}
            inputs: {{command: {shell_spending(10, 0.08)}}}
    """,
    )
    run_engine(home, ref)
    status, last = closing(home, ref.id)
    figure = {"scope": "task:think", "kind": "cost", "limit": 0.05, "spent": 0.08}
    assert status["budget_stop"] == {**figure, "task": "think"}
    assert {k: last["detail"][k] for k in figure} == figure
    assert (
        show(home, ref.id) == "Budget exceeded: cost $0.0800 of $0.0500 (the budget of task think)"
    )


@pytest.mark.process
def test_no_room_for_the_next_task_records_what_it_needed(home: Home) -> None:
    ref = submit(
        home,
        f"""
        name: no-room
        budget: {{max_tokens: 1000}}
        tasks:
          - {{id: first, agent: core/shell, inputs: {{command: {shell_spending(300)}}}}}
          - id: second
            agent: core/shell
            needs: [first]
            budget: {{max_tokens: 800}}
            inputs: {{command: 'echo never'}}
    """,
    )
    run_engine(home, ref)
    status, _ = closing(home, ref.id)
    assert status["budget_stop"] == {
        "scope": "mission",
        "kind": "tokens",
        "limit": 1000.0,
        "spent": 300.0,
        "needed": 800,
        "task": "second",
    }
    assert show(home, ref.id) == (
        "Budget exceeded: tokens 300 of 1,000 (no room left to "
        "start task second, which reserves 800)"
    )


@pytest.mark.process
def test_a_task_wall_time_budget_records_its_seconds(home: Home) -> None:
    ref = submit(
        home,
        """
        name: slow
        tasks:
          - {id: slow, agent: core/shell, budget: {max_wall_time: 0.5},
             inputs: {command: 'sleep 30'}}
    """,
    )
    run_engine(home, ref)
    status, _ = closing(home, ref.id)
    assert status["budget_stop"] == {
        "scope": "task:slow",
        "kind": "wall_time",
        "limit": 0.5,
        "spent": 0.5,
        "task": "slow",
    }
    assert (
        show(home, ref.id) == "Budget exceeded: wall time 0.5 s of 0.5 s (the budget of task slow)"
    )
