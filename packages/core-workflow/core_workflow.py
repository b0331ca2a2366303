"""core-workflow's python agents: the approval record and the collector's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _step_lines(tasks: list[Any]) -> list[str]:
    lines = []
    for task in tasks:
        if isinstance(task, dict) and task.get("agent") != "core-workflow/collector":
            step = (task.get("inputs") or {}).get("step", "")
            needs = ", ".join(n for n in task.get("needs") or [] if n != "approve")
            after = f" (after {needs})" if needs else ""
            lines.append(f"- `{task.get('id')}`{after}: {step}")
    return lines


def record_approval(ctx: Any) -> dict[str, Any]:
    plan = ctx.inputs.get("plan")
    if not isinstance(plan, dict):
        raise ValueError("inputs.plan must be the planner's answer (a mapping)")
    tasks = plan.get("add_tasks") or []
    text = "\n".join(
        [
            f"# Approved plan: {ctx.inputs.get('goal', '')}",
            "",
            str(plan.get("summary", "")),
            "",
            *_step_lines(tasks),
            "",
        ]
    )
    outputs = Path(ctx.outputs_dir)
    outputs.mkdir(parents=True, exist_ok=True)
    (outputs / "plan.md").write_text(text, encoding="utf-8")
    return {"approved": True, "steps": len(_step_lines(tasks))}


def _answer(result: Any) -> Any:
    if isinstance(result, dict) and "data" in result:
        return result["data"]
    return result


def collect_report(ctx: Any) -> dict[str, Any]:
    title = str(ctx.inputs.get("title") or "Report")
    sections, done = [], 0
    for task_id, result in sorted(ctx.needs.items()):
        answer = _answer(result)
        ok = bool(answer.get("done")) if isinstance(answer, dict) else result is not None
        done += ok
        summary = answer.get("summary") if isinstance(answer, dict) else answer
        sections += [f"## {task_id}: {'done' if ok else 'not done'}", "", str(summary), ""]
    outputs = Path(ctx.outputs_dir)
    outputs.mkdir(parents=True, exist_ok=True)
    header = [f"# {title}", "", f"{done} of {len(ctx.needs)} steps done.", ""]
    (outputs / "report.md").write_text("\n".join(header + sections), encoding="utf-8")
    data = {task: _answer(result) for task, result in ctx.needs.items()}
    (outputs / "report.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return {"report": "outputs/report.md", "done": done, "steps": len(ctx.needs)}
