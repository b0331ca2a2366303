"""Python code of the `coding` package's agents (runner: python, called in warm workers)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

DEFAULT_MAX = 20


def parse_grep(output: str, base: str) -> list[dict[str, Any]]:
    """Pure: `git grep -n` lines at `base` (`<base>:<file>:<line>:<text>`) -> TODO items."""
    items = []
    for raw in output.splitlines():
        rest = raw[len(base) + 1 :] if raw.startswith(base + ":") else raw
        file, _, tail = rest.partition(":")
        number, _, text = tail.partition(":")
        if file and number.isascii() and number.isdigit():
            items.append({"file": file, "line": int(number), "text": text.strip()})
    return items


def plan(items: list[dict[str, Any]], agent: str, gate: bool) -> list[dict[str, Any]]:
    """Pure: one worktree task per TODO, then a merge of their branches."""
    tasks = []
    for index, item in enumerate(items):
        where = f"{item['file']}:{item['line']}"
        tasks.append(
            {
                "id": f"todo-{index}",
                "agent": agent,
                "workspace": "worktree",
                "inputs": {**item, "prompt": f"Resolve the TODO at {where}: {item['text']}"},
            }
        )
    merge: dict[str, Any] = {
        "id": "merge",
        "agent": "core/merge",
        "needs": [t["id"] for t in tasks],
    }
    if gate:
        merge["gate"] = "approve"  # a human looks at the branches before they merge
    return [*tasks, merge] if tasks else []


def todos(ctx: Any) -> dict[str, Any]:
    from houston.workspaces.workspace import mission_repo

    where = mission_repo(Path(ctx.mission_dir), Path.cwd())
    pattern = str(ctx.inputs.get("pattern") or "TODO")
    done = subprocess.run(
        ["git", "-C", where.repo, "grep", "-n", "-I", "-F", "-e", pattern, where.base],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode not in (0, 1):  # 1 = nothing found
        raise RuntimeError(f"git grep failed: {done.stderr.strip()}")
    items = parse_grep(done.stdout, where.base)[: int(ctx.inputs.get("max") or DEFAULT_MAX)]
    agent = str(ctx.inputs.get("agent") or "coding/fix-todo")
    gate = bool(ctx.inputs.get("gate", True))
    tasks = plan(items, agent, gate)
    return {"add_tasks": tasks, "todos": items, "repo": where.repo, "base": where.base}
