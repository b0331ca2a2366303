"""`houston gc` for worktrees: remove a worktree only once its work is safe on a branch.

Only folders under `<home>/worktrees/<mission>/` that git lists as a linked worktree are
candidates (never the repository's main working tree, never a folder git does not know),
and only those of missions that are finished and older than the cut-off, or that no longer
exist. Each is first saved (uncommitted work committed as WIP on its branch); it is
removed with `git worktree remove` only when it is then clean and on its branch. The
branches stay: `git branch --list 'houston/*'` shows them, `git branch -D` deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from houston.core.ids import is_decimal
from houston.workspaces import gitops
from houston.workspaces.gitops import WorkspaceError, git
from houston.workspaces.workspace import INTEGRATION, repo_lock, save_work


@dataclass
class Sweep:
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # path -> why it stays


def candidates(root: Path, finished: set[str], known: set[str]) -> list[Path]:
    """Worktree folders of missions that are finished and old (`finished`), or that no
    longer exist (not in `known`)."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    for mission in sorted(p for p in root.iterdir() if p.is_dir()):  # not the .gitignore
        if mission.name in finished or mission.name not in known:
            for task in sorted(p for p in mission.iterdir() if p.is_dir()):
                if task.name == INTEGRATION:
                    found.append(task)
                else:
                    found += sorted(p for p in task.iterdir() if p.is_dir() and is_decimal(p.name))
    return found


def remove_worktrees(paths: list[Path], dry_run: bool = False) -> Sweep:
    sweep = Sweep()
    for path in paths:
        why = _why_kept(path, dry_run)
        if why:
            sweep.kept[str(path)] = why
        else:
            sweep.removed.append(str(path))
    return sweep


def _why_kept(path: Path, dry_run: bool) -> str | None:
    if not (path / ".git").is_file():
        return "not a git worktree (left alone)"
    try:
        with repo_lock(str(path)):
            if not _registered(path):
                return "git does not list it as a linked worktree"
            if dry_run:
                return None
            save_work(path, f"saved by houston gc from {path}")
            if git(path, "status", "--porcelain", ceiling=True).stdout.strip():
                return "it still has changes git would not commit"
            if git(path, "symbolic-ref", "-q", "HEAD", check=False, ceiling=True).returncode:
                return "its HEAD is not on a branch"
            repo = gitops.common_dir(path).parent
            git(repo, "worktree", "remove", str(path))
    except WorkspaceError as exc:
        return str(exc).splitlines()[0]
    _drop_empty_parents(path)
    return None


def _registered(path: Path) -> bool:
    listing = git(path, "worktree", "list", "--porcelain", ceiling=True).stdout
    entries = gitops.parse_worktree_list(listing)
    linked = [Path(e["worktree"]).resolve() for e in entries[1:] if "worktree" in e]
    return path.resolve() in linked  # entries[0] is the main working tree: never ours


def _drop_empty_parents(path: Path) -> None:
    for parent in (path.parent, path.parent.parent):
        try:
            parent.rmdir()
        except OSError:
            return
