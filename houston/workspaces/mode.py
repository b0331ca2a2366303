"""Whether an attempt runs in its own git worktree (the `workspace` key), pure.

Kept apart from `workspace.py`: every worker asks it for every attempt, and importing the
git code for that would slow each worker's start."""

from __future__ import annotations

from typing import Any


def wants_worktree(task_workspace: str | None, agent: dict[str, Any]) -> bool:
    """Pure: the task's `workspace` (its spec's) wins over its agent's."""
    mode = task_workspace or agent.get("workspace") or "none"
    return mode == "worktree"
