"""The graph of a mission's tasks: needs, cycles, and which tasks may start.

Decides, from task ids, needs and states only: the needs a task really has (every task
that is not an initializer implicitly needs every initializer, so an initializer runs
first and may add tasks before anything else starts), needs that name no task, a cycle
(mission validation and tasks an initializer adds), the ready set (pending tasks whose
needs all succeeded: initializers first, then by id), how it changes when a task
succeeds, and the tasks that can never run because a need failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from houston.core.taskstate import BAD_STATES, TaskState

Needs = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Node:
    id: str
    needs: tuple[str, ...] = ()
    initializer: bool = False


def effective_needs(nodes: Iterable[Node]) -> dict[str, list[str]]:
    """Task id -> its needs, declared ones first, then the initializers it waits for."""
    nodes = list(nodes)
    inits = [n.id for n in nodes if n.initializer]
    return {
        n.id: [*n.needs, *(() if n.initializer else (i for i in inits if i not in n.needs))]
        for n in nodes
    }


def unknown_needs(nodes: Iterable[Node]) -> dict[str, list[str]]:
    """Task id -> the needs that name no task."""
    nodes = list(nodes)
    ids = {n.id for n in nodes}
    found = {n.id: sorted(set(n.needs) - ids) for n in nodes}
    return {k: v for k, v in found.items() if v}


def find_cycle(needs: Needs) -> list[str] | None:
    """One cycle as a list of ids (first == last), or None if the graph is a DAG.

    Tasks are visited in the mapping's order and needs in their listed order, so the cycle
    named is the one a reader of mission.yaml meets first. Needs naming no task are
    ignored (`unknown_needs` reports them).
    """
    done: set[str] = set()
    for start in needs:
        cycle = _cycle_from(start, needs, done)
        if cycle:
            return cycle
    return None


def _cycle_from(start: str, needs: Needs, done: set[str]) -> list[str]:
    """Depth-first without recursion (a chain of thousands of tasks is legal)."""
    trail: list[str] = []
    on_trail: set[str] = set()
    stack: list[tuple[str, int]] = [(start, 0)]
    while stack:
        node, next_child = stack.pop()
        if next_child == 0:
            if node in done:
                continue
            trail.append(node)
            on_trail.add(node)
        children = needs.get(node, ())
        if next_child < len(children):
            stack.append((node, next_child + 1))
            child = children[next_child]
            if child in on_trail:
                return [*trail[trail.index(child) :], child]
            if child not in done and child in needs:
                stack.append((child, 0))
            continue
        trail.pop()
        on_trail.discard(node)
        done.add(node)
    return []


def ancestors(task_id: str, needs: Needs) -> set[str]:
    """Every task `task_id` needs, directly or through others (bounded by the graph)."""
    seen: set[str] = set()
    stack = list(needs.get(task_id, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(needs.get(current, ()))
    return seen


def dependents(needs: Needs) -> dict[str, list[str]]:
    """Task id -> the tasks that need it."""
    found: dict[str, list[str]] = {}
    for task_id, deps in needs.items():
        for dep in deps:
            found.setdefault(dep, []).append(task_id)
    return found


def unmet(needs: Needs, states: Mapping[str, str]) -> dict[str, int]:
    """Task id -> how many of its needs have not succeeded (a missing need never will)."""
    return {
        task_id: sum(1 for d in deps if states.get(d) != TaskState.SUCCEEDED)
        for task_id, deps in needs.items()
    }


def release(
    succeeded: str, dependents_of: Mapping[str, list[str]], blocked: dict[str, int]
) -> list[str]:
    """`succeeded` just succeeded: count it off its dependents' unmet needs (in `blocked`)
    and return those that now have none left, so the ready set grows without a rescan."""
    freed = []
    for dep in dependents_of.get(succeeded, ()):
        blocked[dep] -= 1
        if blocked[dep] == 0:
            freed.append(dep)
    return freed


def ready(nodes: Iterable[Node], states: Mapping[str, str]) -> list[str]:
    """Pending tasks whose needs all succeeded, initializers first, then in id order."""
    nodes = list(nodes)
    blocked = unmet(effective_needs(nodes), states)
    found = [n for n in nodes if states.get(n.id) == TaskState.PENDING and blocked[n.id] == 0]
    found.sort(key=ready_order)
    return [n.id for n in found]


def ready_order(node: Node) -> tuple[bool, str]:
    """The order ready tasks start in: initializers first, then by id."""
    return (not node.initializer, node.id)


def doomed(nodes: Iterable[Node], states: Mapping[str, str]) -> list[str]:
    """Pending tasks that can never run because a need failed, was cancelled or skipped."""
    nodes = list(nodes)
    needs = effective_needs(nodes)
    return [
        n.id
        for n in nodes
        if states.get(n.id) == TaskState.PENDING
        and any(states.get(d) in BAD_STATES for d in needs[n.id])
    ]
