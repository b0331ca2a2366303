"""Pure DAG logic of one mission: which tasks may start, which must be skipped, when done.

No I/O and no clock: task states come in as a mapping, times as arguments.
Every task that is not an initializer implicitly needs every initializer, so the
initializer runs first and may add tasks before anything else starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"
WAITING = "waiting"  # needs done, held at its human gate until approved or rejected
TASK_STATES = (PENDING, WAITING, RUNNING, SUCCEEDED, FAILED, CANCELLED, SKIPPED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED, SKIPPED})
BAD_STATES = frozenset({FAILED, CANCELLED, SKIPPED})


@dataclass(frozen=True)
class Node:
    id: str
    needs: tuple[str, ...] = ()
    initializer: bool = False


def effective_needs(nodes: Iterable[Node]) -> dict[str, set[str]]:
    nodes = list(nodes)
    inits = {n.id for n in nodes if n.initializer}
    return {n.id: set(n.needs) | (set() if n.initializer else inits) for n in nodes}


def unknown_needs(nodes: Iterable[Node]) -> dict[str, list[str]]:
    """Task id -> the needs that name no task."""
    nodes = list(nodes)
    ids = {n.id for n in nodes}
    found = {n.id: sorted(set(n.needs) - ids) for n in nodes}
    return {k: v for k, v in found.items() if v}


def find_cycle(nodes: Iterable[Node]) -> list[str] | None:
    """One cycle as a list of ids (first == last), or None if the graph is a DAG."""
    needs = effective_needs(nodes)
    colour: dict[str, int] = dict.fromkeys(needs, 0)  # 0 new, 1 on stack, 2 done
    for start in sorted(needs):
        if colour[start]:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(needs[start]))]
        path = [start]
        colour[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                colour[node] = 2
                continue
            nxt = todo.pop()
            if nxt not in colour:
                continue
            if colour[nxt] == 1:
                return [*path[path.index(nxt) :], nxt]
            if colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(needs[nxt])))
    return None


def ready(nodes: Iterable[Node], states: Mapping[str, str]) -> list[str]:
    """Pending tasks whose needs all succeeded, initializers first, then in id order."""
    nodes = list(nodes)
    needs = effective_needs(nodes)
    found = [
        n
        for n in nodes
        if states.get(n.id) == PENDING and all(states.get(d) == SUCCEEDED for d in needs[n.id])
    ]
    found.sort(key=lambda n: (not n.initializer, n.id))
    return [n.id for n in found]


def doomed(nodes: Iterable[Node], states: Mapping[str, str]) -> list[str]:
    """Pending tasks that can never run because a need failed, was cancelled or skipped."""
    nodes = list(nodes)
    needs = effective_needs(nodes)
    return [
        n.id
        for n in nodes
        if states.get(n.id) == PENDING and any(states.get(d) in BAD_STATES for d in needs[n.id])
    ]


def all_final(states: Mapping[str, str]) -> bool:
    return all(s in FINAL_STATES for s in states.values())


def counts(states: Mapping[str, str]) -> dict[str, int]:
    result = {"total": len(states), PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0}
    for state in states.values():
        if state in result:
            result[state] += 1
        elif state in (CANCELLED, SKIPPED, WAITING):
            result.setdefault(state, 0)
            result[state] += 1
    return result


def backoff(failures: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds to wait before the next attempt after `failures` failed ones (1, 2, ...)."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** (failures - 1)))
