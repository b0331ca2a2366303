"""What a mission produced: its `outputs/` files and its blackboard, read-only.

Markdown is rendered by markdown-it-py with raw HTML off (`<script>` shows as text) and
images off (no remote content is ever fetched by the page); links may only be http(s),
mailto or relative (markdown-it's own `validateLink` refuses `javascript:` and friends).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from houston.core.errors import NotFoundError, UsageError
from houston.home import fsio
from houston.home.layout import decisions_file, directives_dir, outputs_dir

MAX_OUTPUT_FILES = 1000
MAX_RENDER_BYTES = 2 * 1024 * 1024
MARKDOWN_SUFFIXES = (".md", ".markdown")


def list_outputs(mission_path: Path) -> list[dict[str, Any]]:
    """Files under outputs/ (relative paths, sizes), symlinks left out, at most 1,000."""
    root = outputs_dir(mission_path)
    found: list[dict[str, Any]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") or path.is_symlink():
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            found.append(
                {
                    "path": path.relative_to(root).as_posix(),
                    "size": size,
                    "markdown": name.lower().endswith(MARKDOWN_SUFFIXES),
                }
            )
            if len(found) >= MAX_OUTPUT_FILES:
                return found
    return found


def output_file(mission_path: Path, relative: str) -> Path:
    """The file named by `relative` inside outputs/, refusing anything that leaves it."""
    root = outputs_dir(mission_path).resolve()
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise UsageError(f"{relative!r} is not a file of outputs/")
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFoundError(f"outputs/{relative} does not exist")
    return path


def render_markdown(text: str) -> str:
    """Markdown to HTML with no raw HTML, no images, no autolinked bare URLs."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.disable("image")
    return str(md.render(text))


def read_blackboard(mission_path: Path) -> dict[str, Any]:
    """Decisions (oldest first) and directives (by key) of the mission's blackboard."""
    decisions = fsio.read_lines(decisions_file(mission_path))
    directives: dict[str, Any] = {}
    try:
        names = sorted(os.listdir(directives_dir(mission_path)))
    except OSError:
        names = []
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            record = fsio.read_json(directives_dir(mission_path) / name)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            directives[name[:-5]] = record
    return {"decisions": decisions, "directives": directives}
