"""Result placeholders: `{{ tasks.<id>.result }}` and `{{ tasks.<id>.result.<key>... }}`.

Pure. A task's inputs may name the accepted result of a task it needs (directly or
transitively); `result_refs` finds those placeholders so a mission can be checked when it
is submitted, and `resolve_results` replaces them when an attempt starts. A string that is
only a placeholder takes the value itself (a number stays a number, a mapping stays a
mapping); inside longer text a value is written as text (mappings and lists as JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from houston.core.ids import is_decimal

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
# Roots a mission's own templating (parameters, config) leaves for later: `tasks` is
# filled when an attempt starts, `item` / `index` by core/fanout.
RUNTIME_ROOTS = frozenset({"tasks", "item", "index"})

Path = tuple[str | int, ...]


class TemplateError(ValueError):
    """A placeholder that cannot be filled; the message says which and why."""


@dataclass(frozen=True)
class ResultRef:
    path: Path  # where the placeholder sits, inside the inputs
    text: str  # the dotted name as written: tasks.<id>.result[.<key>...]
    task: str  # '' when the placeholder is malformed
    keys: tuple[str, ...]


def _strings(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def parse_ref(dotted: str) -> tuple[str, tuple[str, ...]] | None:
    """`tasks.<id>.result.<keys>` -> (id, keys); None for any other `tasks.` form."""
    parts = dotted.split(".")
    if len(parts) < 3 or parts[0] != "tasks" or parts[2] != "result" or not parts[1]:
        return None
    return parts[1], tuple(parts[3:])


def result_refs(inputs: Mapping[str, Any]) -> list[ResultRef]:
    """Every `{{ tasks.… }}` placeholder in `inputs`, in order (malformed ones with task '')."""
    found = []
    for path, text in _strings(inputs):
        for match in PLACEHOLDER.finditer(text):
            dotted = match.group(1)
            if dotted.split(".")[0] != "tasks":
                continue
            parsed = parse_ref(dotted)
            task, keys = parsed if parsed else ("", ())
            found.append(ResultRef(path, dotted, task, keys))
    return found


def lookup(ref: ResultRef, results: Mapping[str, Any]) -> Any:
    if ref.task not in results:
        raise TemplateError(f"{{{{ {ref.text} }}}}: task {ref.task!r} has no accepted result")
    value = results[ref.task]
    for depth, key in enumerate(ref.keys):
        if isinstance(value, list) and is_decimal(key):
            index = int(key)
            if index < len(value):
                value = value[index]
                continue
        elif isinstance(value, Mapping) and key in value:
            value = value[key]
            continue
        have = sorted(value)[:12] if isinstance(value, Mapping) else type(value).__name__
        where = ".".join(("result", *ref.keys[:depth]))
        raise TemplateError(
            f"{{{{ {ref.text} }}}}: the result of {ref.task!r} has no {key!r} at {where} "
            f"(it has: {have})"
        )
    return value


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def resolve_results(node: Any, results: Mapping[str, Any]) -> Any:
    """`node` with every `{{ tasks.<id>.result… }}` filled from `results` (id -> result)."""
    if isinstance(node, Mapping):
        return {key: resolve_results(value, results) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_results(value, results) for value in node]
    if not isinstance(node, str) or "{{" not in node:
        return node
    whole = PLACEHOLDER.fullmatch(node.strip())
    if whole and (ref := _ref(whole.group(1))) is not None:
        return lookup(ref, results)

    def fill(match: re.Match[str]) -> str:
        ref = _ref(match.group(1))
        return match.group(0) if ref is None else as_text(lookup(ref, results))

    return PLACEHOLDER.sub(fill, node)


def _ref(dotted: str) -> ResultRef | None:
    parsed = parse_ref(dotted)
    return None if parsed is None else ResultRef((), dotted, parsed[0], parsed[1])


def referenced_tasks(inputs: Mapping[str, Any]) -> list[str]:
    """The ids whose results `inputs` name (each once, in order)."""
    seen: dict[str, None] = {}
    for ref in result_refs(inputs):
        if ref.task:
            seen.setdefault(ref.task, None)
    return list(seen)


def check_result_ref(
    text: str, target: str, task_id: str, allowed: set[str], error: Callable[[str, str], Exception]
) -> None:
    """Raise `error(what, fix)` when a result placeholder is malformed or out of reach."""
    if not target:
        raise error(
            f"placeholder {{{{ {text} }}}} is not tasks.<id>.result[.<key>...]",
            "write e.g. {{ tasks.classify.result }} or {{ tasks.classify.result.data }}",
        )
    if target not in allowed:
        raise error(
            f"task {task_id!r} uses the result of {target!r}, which it does not need",
            f"add {target!r} to its needs (a task sees only results of tasks it needs)",
        )
