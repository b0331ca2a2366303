"""The pure DAG logic: ready sets, doomed tasks, cycles, backoff."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from houston.engine import scheduler as sch
from houston.engine.scheduler import Node


def test_initializer_runs_first_then_tasks_whose_needs_succeeded() -> None:
    nodes = [Node("init", (), True), Node("a"), Node("b", ("a",))]
    states = dict.fromkeys(["init", "a", "b"], sch.PENDING)
    assert sch.ready(nodes, states) == ["init"]
    states["init"] = sch.SUCCEEDED
    assert sch.ready(nodes, states) == ["a"]
    states["a"] = sch.SUCCEEDED
    assert sch.ready(nodes, states) == ["b"]


def test_tasks_behind_a_failure_are_doomed() -> None:
    nodes = [Node("a"), Node("b", ("a",)), Node("c")]
    states = {"a": sch.FAILED, "b": sch.PENDING, "c": sch.PENDING}
    assert sch.doomed(nodes, states) == ["b"]
    assert sch.ready(nodes, states) == ["c"]


def test_cycles_and_unknown_needs_are_found() -> None:
    assert sch.find_cycle([Node("a", ("b",)), Node("b", ("c",)), Node("c", ("a",))]) == [
        "a", "b", "c", "a"]
    assert sch.find_cycle([Node("a"), Node("b", ("a",))]) is None
    assert sch.unknown_needs([Node("a", ("zz",))]) == {"a": ["zz"]}


def test_backoff_doubles_and_is_capped() -> None:
    assert [sch.backoff(n, 0.5, 3.0) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 3.0]


def test_counts_cover_every_state() -> None:
    counts = sch.counts({"a": sch.SUCCEEDED, "b": sch.FAILED, "c": sch.SKIPPED})
    assert counts["total"] == 3 and counts["succeeded"] == 1 and counts["skipped"] == 1


@settings(deadline=None)  # the machine is shared: wall-clock deadlines would be flaky
@given(st.integers(min_value=1, max_value=30), st.randoms(use_true_random=False))
def test_running_ready_tasks_in_any_order_finishes_a_chain_dag(n: int, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    nodes = [Node(f"t{i}", tuple(f"t{j}" for j in range(i) if rnd.random() < 0.3))
             for i in range(n)]
    assert sch.find_cycle(nodes) is None
    states = {node.id: sch.PENDING for node in nodes}
    order: list[str] = []
    for _ in range(n):
        ready = sch.ready(nodes, states)
        assert ready
        pick = rnd.choice(ready)
        states[pick] = sch.SUCCEEDED
        order.append(pick)
    assert sch.all_final(states)
    position = {t: i for i, t in enumerate(order)}
    assert all(position[d] < position[node.id] for node in nodes for d in node.needs)
