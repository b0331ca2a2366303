"""Claude Code's file tools (Read, Write, Edit, Glob, Grep), confined to one folder.

Same names and argument shapes as Claude Code, so one agent file works in both. Every
path, relative (to the folder) or absolute, is resolved with symlinks followed and must
stay inside the attempt's work folder; anything else raises `ToolError`, which the model
sees as the tool's answer: nothing outside is read or written.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

MAX_READ_LINES = 2000
MAX_LINE = 2000
MAX_MATCHES = 500
MAX_WALK = 20_000  # files looked at by one Glob or Grep


class ToolError(Exception):
    """A tool call that failed; its text goes back to the model."""


def confine(root: Path, raw: Any, *, must_exist: bool = True) -> Path:
    """`raw` as a real path inside `root` (symlinks followed), else ToolError."""
    if not isinstance(raw, str) or not raw.strip():
        raise ToolError("file_path must be a non-empty string")
    base = root.resolve()
    candidate = Path(raw) if os.path.isabs(raw) else base / raw  # noqa: PTH117
    real = candidate.resolve()  # follows every symlink, also of a missing file's parents
    if real != base and base not in real.parents:
        raise ToolError(f"{raw} is outside the work folder {base}: refused")
    if must_exist and not real.exists():
        raise ToolError(f"{raw} does not exist")
    return real


def read(root: Path, args: dict[str, Any]) -> str:
    path = confine(root, args.get("file_path"))
    if path.is_dir():
        raise ToolError(f"{args['file_path']} is a folder: use Glob to list it")
    offset = max(1, int(args.get("offset") or 1))
    limit = max(1, min(int(args.get("limit") or MAX_READ_LINES), MAX_READ_LINES))
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    shown = lines[offset - 1 : offset - 1 + limit]
    if not shown:
        return "(empty file)" if not lines else f"(the file has {len(lines)} lines)"
    return "\n".join(f"{n:6d}\t{line[:MAX_LINE]}" for n, line in enumerate(shown, offset))


def write(root: Path, args: dict[str, Any]) -> str:
    path = confine(root, args.get("file_path"), must_exist=False)
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("content must be a string")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return f"wrote {len(content.encode())} bytes to {path.relative_to(root.resolve())}"


def edit(root: Path, args: dict[str, Any]) -> str:
    path = confine(root, args.get("file_path"))
    old, new = args.get("old_string"), args.get("new_string")
    if not isinstance(old, str) or not isinstance(new, str):
        raise ToolError("old_string and new_string must be strings")
    if old == new:
        raise ToolError("old_string and new_string are the same: nothing to change")
    text = path.read_text(encoding="utf-8")
    count = text.count(old)
    if count == 0:
        raise ToolError("old_string was not found in the file")
    if count > 1 and not args.get("replace_all"):
        raise ToolError(f"old_string occurs {count} times: give more context, or replace_all")
    path.write_text(text.replace(old, new), encoding="utf-8")
    return f"replaced {count if args.get('replace_all') else 1} occurrence(s)"


def _walk(start: Path, root: Path) -> list[Path]:
    """Files under `start`, not following symlinked folders out of `root`."""
    found: list[Path] = []
    base = root.resolve()
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if _inside(Path(folder, d), base))
        for name in sorted(files):
            found.append(Path(folder, name))
            if len(found) >= MAX_WALK:
                return found
    return found


def _inside(path: Path, base: Path) -> bool:
    real = path.resolve()
    return real == base or base in real.parents


def glob(root: Path, args: dict[str, Any]) -> str:
    pattern = args.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ToolError("pattern must be a non-empty string")
    start = confine(root, args.get("path") or ".")
    hits = [p for p in start.glob(pattern) if p.is_file() and _inside(p, root.resolve())]
    hits.sort(key=lambda p: p.stat().st_mtime, reverse=True)  # newest first, as Claude Code
    shown = [str(p.relative_to(root.resolve())) for p in hits[:MAX_MATCHES]]
    return "\n".join(shown) if shown else "No files found"


def grep(root: Path, args: dict[str, Any]) -> str:
    pattern = args.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ToolError("pattern must be a non-empty string")
    try:
        regex = re.compile(pattern, re.IGNORECASE if args.get("-i") else 0)
    except re.error as exc:
        raise ToolError(f"pattern is not a regular expression: {exc}") from None
    start = confine(root, args.get("path") or ".")
    files = [start] if start.is_file() else _walk(start, root)
    if isinstance(args.get("glob"), str):
        files = [f for f in files if fnmatch.fnmatch(f.name, args["glob"])]
    mode = args.get("output_mode") or "files_with_matches"
    lines: list[str] = []
    for file in files:
        if not _inside(file, root.resolve()):
            continue
        hits = _matches(file, regex)
        if not hits:
            continue
        rel = str(file.resolve().relative_to(root.resolve()))
        if mode == "content":
            lines += [f"{rel}:{n}:{text[:MAX_LINE]}" for n, text in hits]
        elif mode == "count":
            lines.append(f"{rel}:{len(hits)}")
        else:
            lines.append(rel)
        if len(lines) >= MAX_MATCHES:
            break
    return "\n".join(lines[:MAX_MATCHES]) if lines else "No matches found"


def _matches(file: Path, regex: re.Pattern[str]) -> list[tuple[int, str]]:
    try:
        text = file.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []  # binary or unreadable: Claude Code's Grep skips those too
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if regex.search(line)]


FILE_TOOLS = {"Read": read, "Write": write, "Edit": edit, "Glob": glob, "Grep": grep}

SCHEMAS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "Read": (
        "Read a file of the work folder (lines numbered).",
        {
            "file_path": {"type": "string"},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
        ["file_path"],
    ),
    "Write": (
        "Write a file in the work folder (replaces it).",
        {"file_path": {"type": "string"}, "content": {"type": "string"}},
        ["file_path", "content"],
    ),
    "Edit": (
        "Replace old_string by new_string in a file of the work folder.",
        {
            "file_path": {"type": "string"},
            "old_string": {"type": "string"},
            "new_string": {"type": "string"},
            "replace_all": {"type": "boolean"},
        },
        ["file_path", "old_string", "new_string"],
    ),
    "Glob": (
        "Find files of the work folder by glob pattern (e.g. **/*.py).",
        {"pattern": {"type": "string"}, "path": {"type": "string"}},
        ["pattern"],
    ),
    "Grep": (
        "Search file contents of the work folder with a regular expression.",
        {
            "pattern": {"type": "string"},
            "path": {"type": "string"},
            "glob": {"type": "string"},
            "-i": {"type": "boolean"},
            "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
        },
        ["pattern"],
    ),
}
