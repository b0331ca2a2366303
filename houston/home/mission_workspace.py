"""Where a mission's `workspace: worktree` tasks work: the repository and base commit
(docs/formats.md, "context.md, workspace.json, ..."). Recorded at submit in status.json's
`workspace`; a mission without it gets `<mission>/workspace.json` from its first worktree
attempt, written here only: a hard link, so that the first writer wins and every attempt
works from the same base.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from houston.home import fsio
from houston.home.layout import status_file, workspace_file
from houston.home.status import Workspace, parse_workspace


def recorded_workspace(mission_dir: Path) -> Workspace | None:
    """status.json's `workspace`, else workspace.json's; None if neither says (a file
    that cannot be read or does not parse says nothing)."""
    status = _read(status_file(mission_dir))
    found = parse_workspace(status.get("workspace")) if isinstance(status, dict) else None
    return found or parse_workspace(_read(workspace_file(mission_dir)))


def _read(path: Path) -> object:
    try:
        return fsio.read_json(path)
    except (OSError, ValueError):
        return None


def record_workspace(mission_dir: Path, found: Workspace) -> Workspace:
    """Write workspace.json unless another attempt did first; the one that counts."""
    path = workspace_file(mission_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"repo": found["repo"], "base": found["base"]}))
    try:
        os.link(tmp, path)  # the first attempt to record wins; the others read its record
    except FileExistsError:
        winner = parse_workspace(fsio.read_json(path))
        if winner is None:
            raise ValueError(f"{path} does not name a repository and a base commit") from None
        return winner
    finally:
        tmp.unlink(missing_ok=True)
    return found
