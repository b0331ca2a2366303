"""Python code of the built-in `core` agents (runner: python, called in warm workers)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any


def call_python(ctx: Any) -> Any:
    entrypoint = str(ctx.inputs.get("entrypoint") or "")
    module_name, _, func_name = entrypoint.partition(":")
    if not module_name or not func_name:
        raise ValueError(f"inputs.entrypoint must be module:function, got {entrypoint!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.append(cwd)
    func = getattr(importlib.import_module(module_name), func_name)
    args = ctx.inputs.get("args")
    if isinstance(args, list):
        value = func(*args)
    elif isinstance(args, dict):
        value = func(**args)
    else:
        value = func()
    return value if isinstance(value, dict) else {"value": value}


def _fill(value: Any, item: Any, index: int) -> Any:
    if isinstance(value, str):
        if value == "{{item}}":
            return item
        text = item if isinstance(item, str) else json.dumps(item)
        return value.replace("{{item}}", text).replace("{{index}}", str(index))
    if isinstance(value, list):
        return [_fill(v, item, index) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, item, index) for k, v in value.items()}
    return value


def fanout(ctx: Any) -> dict[str, Any]:
    items = ctx.inputs.get("items")
    template = ctx.inputs.get("template")
    if not isinstance(items, list) or not isinstance(template, dict):
        raise ValueError("core/fanout needs inputs.items (a list) and inputs.template (a task)")
    prefix = str(ctx.inputs.get("prefix") or "item")
    tasks = []
    for index, item in enumerate(items):
        task = _fill(template, item, index)
        task["id"] = f"{prefix}-{index}"
        tasks.append(task)
    collector = ctx.inputs.get("collect")
    if collector:
        tasks.append(
            {
                "id": "collect",
                "agent": collector,
                "needs": [t["id"] for t in tasks],
                "inputs": dict(ctx.inputs.get("collect_inputs") or {}),
            }
        )
    return {"add_tasks": tasks, "count": len(items)}


def collect(ctx: Any) -> dict[str, Any]:
    tasks_dir = Path(ctx.mission_dir) / "tasks"
    wanted = ctx.inputs.get("tasks")
    names = (
        wanted
        if isinstance(wanted, list)
        else sorted(
            p.name
            for p in tasks_dir.iterdir()
            if p.name != ctx.task_id and not p.name.startswith(".")
        )
    )
    results = {}
    for name in names:
        path = tasks_dir / str(name) / "result.json"
        if path.is_file():
            results[str(name)] = json.loads(path.read_text())
    out = Path(ctx.outputs_dir) / str(ctx.inputs.get("file") or "results.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)
    return {"file": str(out.relative_to(ctx.mission_dir)), "tasks": len(results)}


def merge(ctx: Any) -> dict[str, Any]:
    """Merge the branches of the tasks this one needs (or inputs.branches) into the
    mission's integration branch; fails naming the conflicting files."""
    from houston.workspaces.integration import branches_of, merge_branches
    from houston.workspaces.workspace import home_of, mission_repo

    mission_dir = Path(ctx.mission_dir)
    wanted = ctx.inputs.get("branches")
    branches = [str(b) for b in wanted] if isinstance(wanted, list) else branches_of(ctx.needs)
    where = mission_repo(mission_dir, Path.cwd())
    report = merge_branches(home_of(mission_dir), where, ctx.mission_id, branches)
    return {**report.to_dict(), "base": where.base, "repo": where.repo}
