"""Merging attempt branches into a mission's integration branch (the `core/merge` agent).

The merge happens in a worktree of its own (`<home>/worktrees/<mission>/_integration`, a
name no task id can take), never in the user's checkout. Each branch is merged with
`--no-ff`; a branch that conflicts is aborted (the integration branch keeps what merged
cleanly) and its conflicting files are reported; the merge then fails listing them all.
Merging a branch already merged is a no-op, so a retry is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from houston.home.layout import Home
from houston.workspaces import gitops
from houston.workspaces.gitops import MergeConflict, WorkspaceError, git
from houston.workspaces.workspace import INTEGRATION, MissionRepo, integration_branch, repo_lock

FOLDER = INTEGRATION


@dataclass
class MergeReport:
    branch: str
    merged: list[str] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    commit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "merged": self.merged,
            "commit": self.commit,
            "conflicts": self.conflicts,
        }


def branches_of(needs: dict[str, Any]) -> list[str]:
    """Pure: the `branch` of each needed task's result, in the order of the needs."""
    return [str(r["branch"]) for r in needs.values() if isinstance(r, dict) and r.get("branch")]


def conflict_message(report: MergeReport) -> str:
    """Pure: what conflicted, branch by branch."""
    lines = [
        f"{branch}: {', '.join(files) or '(git named no file)'}"
        for branch, files in report.conflicts.items()
    ]
    return (
        f"{len(report.conflicts)} branch(es) conflict with {report.branch}; "
        "conflicting files:\n  " + "\n  ".join(lines)
    )


def merge_branches(
    home: Path, where: MissionRepo, mission_id: str, branches: list[str]
) -> MergeReport:
    """Merge `branches` into the mission's integration branch; MergeConflict on conflicts."""
    target = integration_branch(mission_id)
    path = Home(home).worktrees / mission_id / FOLDER
    report = MergeReport(target)
    with repo_lock(where.repo):
        _open(where, target, path)
        ident = gitops.identity_args(path)
        for branch in branches:
            if not gitops.branch_exists(where.repo, branch):
                raise WorkspaceError(
                    f"branch {branch} does not exist in {where.repo}",
                    fix="check the needed tasks' results (`houston show`)",
                )
            _merge_one(path, ident, branch, report)
        report.commit = gitops.head_commit(path) or where.base
    if report.conflicts:
        raise MergeConflict(
            conflict_message(report),
            [f for files in report.conflicts.values() for f in files],
            fix="resolve them by hand in a checkout of the integration "
            "branch, or rerun the conflicting task on top of it",
        )
    return report


def _open(where: MissionRepo, target: str, path: Path) -> None:
    if (path / ".git").is_file():
        git(path, "merge", "--abort", check=False, ceiling=True)  # a kill mid-merge
        git(path, "reset", "-q", "--hard", "HEAD", ceiling=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if gitops.branch_exists(where.repo, target):
        git(where.repo, "worktree", "add", str(path), target)
    else:
        git(where.repo, "worktree", "add", "-b", target, str(path), where.base)


def _merge_one(path: Path, ident: list[str], branch: str, report: MergeReport) -> None:
    done = git(
        path,
        *ident,
        "merge",
        "--no-ff",
        "--no-edit",
        "-m",
        f"houston: merge {branch}",
        branch,
        check=False,
        ceiling=True,
    )
    if done.returncode == 0:
        report.merged.append(branch)
        return
    unmerged = git(path, "diff", "--name-only", "--diff-filter=U", "-z", ceiling=True).stdout
    git(path, "merge", "--abort", check=False, ceiling=True)
    files = gitops.conflicted_paths(unmerged)
    if not files:
        raise WorkspaceError(
            f"git could not merge {branch}: {(done.stderr or done.stdout).strip()[-300:]}",
            where=str(path),
        )
    report.conflicts[branch] = files
