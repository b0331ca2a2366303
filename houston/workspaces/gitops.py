"""Thin, checked calls of the `git` program, and pure parsers of its output.

Every call names the repository or worktree it acts on (`git -C`), never relies on the
current folder, and turns a failure into a `WorkspaceError` that quotes git's own message.
`GIT_CEILING_DIRECTORIES` stops git from walking up out of a worktree folder: a worktree
whose `.git` file went missing must fail, not silently act on an enclosing checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from houston.core.errors import HoustonError

GIT_TIMEOUT = 120.0
# Commits made by Houston itself when the user has no identity configured for the repo.
FALLBACK_IDENTITY = ("Houston", "houston@localhost")


class WorkspaceError(HoustonError):
    """A git or worktree operation failed (the message quotes git)."""


class MergeConflict(WorkspaceError):
    """Branches could not be merged; `files` are the conflicting paths."""

    def __init__(self, message: str, files: list[str], **kwargs: str) -> None:
        super().__init__(message, **kwargs)
        self.files = files


def git_executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise WorkspaceError("git is not installed", fix="install git (e.g. apt-get install git)")
    return found


def git(
    where: Path | str,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    ceiling: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `git -C where args...`; WorkspaceError with git's stderr when it fails."""
    environ = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    if ceiling:
        environ["GIT_CEILING_DIRECTORIES"] = str(Path(where).parent)
    try:
        done = subprocess.run(
            [git_executable(), "-C", str(where), *args],
            capture_output=True,
            text=True,
            env=environ,
            timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkspaceError(
            f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s", where=str(where)
        ) from exc
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise WorkspaceError(
            f"git {' '.join(args[:2])} failed: {message[-1] if message else done.returncode}",
            where=str(where),
        )
    return done


def toplevel(folder: Path | str) -> Path | None:
    """The top of the git work tree holding `folder`, or None outside any repository."""
    if not Path(folder).is_dir():
        return None
    done = git(folder, "rev-parse", "--show-toplevel", check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def head_commit(repo: Path | str) -> str | None:
    done = git(repo, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def common_dir(repo: Path | str) -> Path:
    done = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(done.stdout.strip())


def identity_args(repo: Path | str) -> list[str]:
    """`-c user.name=... -c user.email=...` when the repository has no identity of its own."""
    name = git(repo, "config", "user.name", check=False).stdout.strip()
    email = git(repo, "config", "user.email", check=False).stdout.strip()
    args = []
    if not name:
        args += ["-c", f"user.name={FALLBACK_IDENTITY[0]}"]
    if not email:
        args += ["-c", f"user.email={FALLBACK_IDENTITY[1]}"]
    return args


def branch_exists(repo: Path | str, branch: str) -> bool:
    return (
        git(repo, "show-ref", "--verify", "-q", f"refs/heads/{branch}", check=False).returncode == 0
    )


def parse_worktree_list(text: str) -> list[dict[str, str]]:
    """Pure: `git worktree list --porcelain` -> one dict per worktree (worktree, HEAD,
    branch, and flags such as locked / prunable with their reasons)."""
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                entries.append(current)
            current = {}
            continue
        key, _, value = line.partition(" ")
        current[key] = value
    if current:
        entries.append(current)
    return entries


def conflicted_paths(text: str) -> list[str]:
    """Pure: unmerged paths from `git diff --name-only --diff-filter=U -z`."""
    return sorted({p for p in text.split("\0") if p})


def changed_files(repo: Path | str, base: str, commit: str) -> list[str]:
    done = git(repo, "diff", "--name-only", "-z", "--no-renames", base, commit)
    return sorted({p for p in done.stdout.split("\0") if p})
