"""The code-health agents: list Python files, analyse one file, write the report."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

DEFAULT_EXCLUDE = [
    ".git",
    ".houston",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
]
TODO = re.compile(r"\b(TODO|FIXME|XXX)\b")


def list_files(ctx: Any) -> dict[str, Any]:
    root = Path(str(ctx.inputs.get("root") or ".")).resolve()
    exclude = set(ctx.inputs.get("exclude") or DEFAULT_EXCLUDE)
    limit = int(ctx.inputs.get("limit") or 2000)
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in exclude and not d.startswith("."))
        found += [str(Path(folder) / f) for f in sorted(files) if f.endswith(".py")]
        if len(found) >= limit:
            break
    found = found[:limit]
    tasks = [
        {"id": f"file-{i:04d}", "agent": "code-health/analyze", "inputs": {"path": p}}
        for i, p in enumerate(found)
    ]
    tasks.append(
        {
            "id": "report",
            "agent": "code-health/report",
            "needs": [t["id"] for t in tasks],
            "inputs": {"root": str(root), "file": ctx.inputs.get("report", "code-health.md")},
        }
    )
    print(f"{len(found)} Python files under {root}")
    return {"add_tasks": tasks, "files": len(found), "root": str(root)}


def _functions(tree: ast.AST) -> list[dict[str, Any]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            found.append({"name": node.name, "line": node.lineno, "length": end - node.lineno + 1})
    return sorted(found, key=lambda f: (-f["length"], f["line"]))


def analyze(ctx: Any) -> dict[str, Any]:
    path = Path(str(ctx.inputs["path"]))
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    blank = sum(1 for line in lines if not line.strip())
    comments = sum(1 for line in lines if line.strip().startswith("#"))
    result: dict[str, Any] = {
        "path": str(path),
        "lines": len(lines),
        "blank": blank,
        "comments": comments,
        "code": len(lines) - blank - comments,
        "todos": len(TODO.findall(text)),
        "syntax_ok": True,
        "syntax_error": None,
        "functions": 0,
        "longest": [],
    }
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        result.update(syntax_ok=False, syntax_error=f"line {exc.lineno}: {exc.msg}")
        return result
    functions = _functions(tree)
    result.update(functions=len(functions), longest=functions[:3])
    return result


def _results(mission_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((mission_dir / "tasks").glob("*/result.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "lines" in data and "path" in data:
            found.append(data)
    return found


def _rel(path: str, root: str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def render(results: list[dict[str, Any]], root: str) -> str:
    total = sum(r["lines"] for r in results)
    code = sum(r["code"] for r in results)
    todos = sum(r["todos"] for r in results)
    broken = [r for r in results if not r["syntax_ok"]]
    out = [
        f"# Code health of `{root}`",
        "",
        "| files | lines | code lines | functions | TODO/FIXME | syntax errors |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(results)} | {total} | {code} | {sum(r['functions'] for r in results)} "
        f"| {todos} | {len(broken)} |",
        "",
    ]
    if broken:
        out += ["## Syntax errors", ""]
        out += [f"- `{_rel(r['path'], root)}`: {r['syntax_error']}" for r in broken]
        out.append("")
    functions = [
        (f["length"], _rel(r["path"], root), f["name"], f["line"])
        for r in results
        for f in r["longest"]
    ]
    out += ["## Longest functions", "", "| lines | function | where |", "|---:|---|---|"]
    out += [
        f"| {n} | `{name}` | `{path}:{line}` |"
        for n, path, name, line in sorted(functions, reverse=True)[:10]
    ]
    out += ["", "## Most TODOs", "", "| TODOs | file |", "|---:|---|"]
    ranked = sorted((r for r in results if r["todos"]), key=lambda r: -r["todos"])[:10]
    out += [f"| {r['todos']} | `{_rel(r['path'], root)}` |" for r in ranked] or ["| 0 | - |"]
    out += ["", "## Largest files", "", "| lines | file |", "|---:|---|"]
    out += [
        f"| {r['lines']} | `{_rel(r['path'], root)}` |"
        for r in sorted(results, key=lambda r: -r["lines"])[:10]
    ]
    return "\n".join(out) + "\n"


def report(ctx: Any) -> dict[str, Any]:
    results = _results(Path(ctx.mission_dir))
    root = str(ctx.inputs.get("root") or ".")
    target = Path(ctx.outputs_dir) / str(ctx.inputs.get("file") or "code-health.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(render(results, root))
    tmp.replace(target)
    ctx.blackboard.decide(f"code-health report written for {len(results)} files")
    return {
        "report": str(target.relative_to(ctx.mission_dir)),
        "files": len(results),
        "syntax_errors": sum(1 for r in results if not r["syntax_ok"]),
    }
