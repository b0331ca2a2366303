"""The pure DAG logic: ready sets, doomed tasks, cycles, ancestors; no files."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from houston.core import dag
from houston.core.dag import Node
from houston.core.taskstate import FINAL_STATES, TaskState, count_by_state

PENDING, SUCCEEDED = TaskState.PENDING, TaskState.SUCCEEDED


def test_initializer_runs_first_then_tasks_whose_needs_succeeded() -> None:
    nodes = [Node("init", (), True), Node("a"), Node("b", ("a",))]
    states = dict.fromkeys(["init", "a", "b"], PENDING)
    assert dag.ready(nodes, states) == ["init"]
    states["init"] = SUCCEEDED
    assert dag.ready(nodes, states) == ["a"]
    states["a"] = SUCCEEDED
    assert dag.ready(nodes, states) == ["b"]


def test_tasks_behind_a_failure_are_doomed() -> None:
    nodes = [Node("a"), Node("b", ("a",)), Node("c")]
    states = {"a": TaskState.FAILED, "b": PENDING, "c": PENDING}
    assert dag.doomed(nodes, states) == ["b"]
    assert dag.ready(nodes, states) == ["c"]


def test_cycles_and_unknown_needs_are_found() -> None:
    nodes = [Node("a", ("b",)), Node("b", ("c",)), Node("c", ("a",))]
    assert dag.find_cycle(dag.effective_needs(nodes)) == ["a", "b", "c", "a"]
    assert dag.find_cycle(dag.effective_needs([Node("a"), Node("b", ("a",))])) is None
    assert dag.unknown_needs([Node("a", ("zz",))]) == {"a": ["zz"]}


def test_the_cycle_named_is_the_first_met_in_the_listed_order() -> None:
    # s is not in the cycle; needs are followed in the order they are listed.
    needs = {"s": ["p"], "p": ["x", "q"], "q": ["p"], "x": []}
    assert dag.find_cycle(needs) == ["p", "q", "p"]
    assert dag.find_cycle({"a": ["missing"]}) is None  # unknown needs are not a cycle


def test_a_chain_of_thousands_is_no_cycle_and_closing_it_is_one() -> None:
    needs: dict[str, list[str]] = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert dag.find_cycle(needs) is None
    needs["t0"] = ["t4999"]
    cycle = dag.find_cycle(needs)
    assert cycle is not None and cycle[:3] == ["t0", "t4999", "t4998"] and len(cycle) == 5001


def test_every_task_but_an_initializer_needs_the_initializers() -> None:
    nodes = [Node("init", (), True), Node("a", ("b",)), Node("b", ("init",))]
    assert dag.effective_needs(nodes) == {"init": [], "a": ["b", "init"], "b": ["init"]}


def test_ancestors_follow_needs_through_cycles_without_looping() -> None:
    needs = {"c": ["b"], "b": ["a", "d"], "a": ["c"], "d": []}
    assert dag.ancestors("c", needs) == {"a", "b", "c", "d"}
    assert dag.ancestors("x", needs) == set()


def test_release_frees_the_dependents_whose_last_need_succeeded() -> None:
    needs = {"a": [], "b": [], "c": ["a", "b"], "d": ["a"]}
    dependents = dag.dependents(needs)
    blocked = dag.unmet(needs, {"a": PENDING, "b": PENDING})
    assert blocked == {"a": 0, "b": 0, "c": 2, "d": 1}
    assert dag.release("a", dependents, blocked) == ["d"]
    assert dag.release("b", dependents, blocked) == ["c"]
    assert dag.release("c", dependents, blocked) == []


def test_backoff_doubles_and_is_capped() -> None:
    from houston.core.taskstate import backoff

    assert [backoff(n, 0.5, 3.0) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 3.0]


def test_counts_cover_every_state() -> None:
    counts = count_by_state([SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED])
    assert counts["total"] == 3 and counts["succeeded"] == 1 and counts["skipped"] == 1


@settings(deadline=None)  # the machine is shared: wall-clock deadlines would be flaky
@given(st.integers(min_value=1, max_value=30), st.randoms(use_true_random=False))
def test_running_ready_tasks_in_any_order_finishes_a_chain_dag(n: int, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    nodes = [
        Node(f"t{i}", tuple(f"t{j}" for j in range(i) if rnd.random() < 0.3)) for i in range(n)
    ]
    assert dag.find_cycle(dag.effective_needs(nodes)) is None
    states = {node.id: PENDING for node in nodes}
    order: list[str] = []
    for _ in range(n):
        ready = dag.ready(nodes, states)
        assert ready
        pick = rnd.choice(ready)
        states[pick] = SUCCEEDED
        order.append(pick)
    assert all(s in FINAL_STATES for s in states.values())
    position = {t: i for i, t in enumerate(order)}
    assert all(position[d] < position[node.id] for node in nodes for d in node.needs)


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=25), st.randoms(use_true_random=False))
def test_releasing_tasks_one_by_one_gives_the_same_ready_set_as_a_rescan(
    n: int, rnd: object
) -> None:
    """The engine grows its ready set incrementally (release); a rescan must agree."""
    import random

    assert isinstance(rnd, random.Random)
    nodes = [
        Node(
            f"t{i}",
            tuple(f"t{j}" for j in range(i) if rnd.random() < 0.3),
            initializer=i == 0 and rnd.random() < 0.5,
        )
        for i in range(n)
    ]
    needs = dag.effective_needs(nodes)
    states = {node.id: PENDING for node in nodes}
    dependents, blocked = dag.dependents(needs), dag.unmet(needs, states)
    known = {t for t, count in blocked.items() if count == 0}
    for _ in range(n):
        assert sorted(known - {t for t, s in states.items() if s == SUCCEEDED}) == sorted(
            dag.ready(nodes, states)
        )
        pick = rnd.choice(dag.ready(nodes, states))
        states[pick] = SUCCEEDED
        known.update(dag.release(pick, dependents, blocked))
