"""`workspace: worktree`: each attempt in its own git worktree and branch; no work lost.

Layout and names (all stable, none inside a mission folder, which moves between states):
* worktree of an attempt: `<home>/worktrees/<mission>/<task>/<attempt>`
* its branch: `houston/<mission>/tasks/<task>/<attempt>`, made from the mission's base commit
* the mission's integration branch (core/merge): `houston/<mission>/integration`

The mission's repository and base commit are recorded at submit (`status.json` key
`workspace`), so later commits to the user's branch do not leak in; a mission without that
record fixes them when its first worktree is made (`<mission>/workspace.json`).

Every change to a repository's worktrees runs under one lock per repository (a file in its
git folder), and starts by repairing what a kill -9 may have left: `git worktree prune`,
entries still locked as "initializing" by a killed `git worktree add`, stale index locks of
our worktrees. An attempt that does not succeed keeps its worktree with its changes
committed as work in progress (WIP) on its branch; the next attempt gets a fresh worktree.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from houston.core.ids import is_decimal
from houston.home import attemptfiles, taskfiles
from houston.home.layout import Home, spec_file
from houston.runners import Job, Outcome
from houston.workspaces import gitops
from houston.workspaces.gitops import WorkspaceError, git

if TYPE_CHECKING:
    from houston.home.coding_records import WorkspaceRecord
    from houston.home.status import Workspace

_LOCK_NAME = "houston-worktrees.lock"
_ORPHAN_LOCK_REASONS = ("initializing",)
UNBORN_AGE = 60.0
INTEGRATION = "_integration"  # core/merge's worktree: <home>/worktrees/<mission>/_integration


@dataclass(frozen=True)
class MissionRepo:
    repo: str
    base: str

    def to_record(self) -> Workspace:
        """status.json's `workspace` (and the mission's workspace.json)."""
        return {"repo": self.repo, "base": self.base}


def attempt_branch(mission_id: str, task_id: str, attempt: int) -> str:
    return f"houston/{mission_id}/tasks/{task_id}/{attempt}"


def integration_branch(mission_id: str) -> str:
    return f"houston/{mission_id}/integration"


def worktree_path(home: Path, mission_id: str, task_id: str, attempt: int) -> Path:
    return Home(home).worktree(mission_id, task_id, attempt)


def home_of(mission_dir: Path) -> Path:
    return Home.of_mission(mission_dir).root


# `workspace: worktree` anywhere (tasks, or task templates inside an initializer's inputs).
_MENTIONS = re.compile(rb"workspace['\"]?\s*:\s*['\"]?worktree")


def record_at_submit(text: bytes, repo: str | None, cwd: Path) -> Workspace | None:
    """The repository and base commit to record when a mission is submitted: when it
    names a `repo:` (which must be a repository) or mentions `workspace: worktree` (then
    outside a repository nothing is recorded: an attempt that needs one says so)."""
    if repo is None and not _MENTIONS.search(text):
        return None  # submitting costs no git call
    if repo is None and gitops.toplevel(cwd) is None:
        return None
    return resolve_repo(repo, cwd).to_record()


def resolve_repo(repo: str | None, cwd: Path) -> MissionRepo:
    folder = (cwd / repo).resolve() if repo else cwd
    top = gitops.toplevel(folder)
    if top is None:
        raise WorkspaceError(
            f"{folder} is not inside a git repository",
            fix="set `repo:` in the mission to a git repository, or submit "
            "from inside one (git init; git commit)",
        )
    base = gitops.head_commit(top)
    if base is None:
        raise WorkspaceError(
            f"the repository {top} has no commit yet",
            fix="make a first commit: worktrees start from a commit",
        )
    return MissionRepo(str(top), base)


def mission_repo(mission_dir: Path, cwd: Path) -> MissionRepo:
    """The recorded repository and base of a mission (fixed now if never recorded)."""
    # Here: a worker imports this module at start, and most attempts need no worktree.
    from houston.home.mission_workspace import record_workspace, recorded_workspace

    recorded = recorded_workspace(mission_dir)
    if recorded is None:
        found = resolve_repo(_mission_repo_key(mission_dir), cwd)
        recorded = record_workspace(mission_dir, found.to_record())
    return MissionRepo(recorded["repo"], recorded["base"])


def _mission_repo_key(mission_dir: Path) -> str | None:
    from houston.mission import load_mission

    spec = load_mission(spec_file(mission_dir).read_bytes(), str(spec_file(mission_dir)))
    return spec.repo


@contextlib.contextmanager
def repo_lock(repo: str) -> Iterator[None]:
    """One lock per repository for every change to its worktrees (OS lock: a kill frees it)."""
    from filelock import FileLock

    with FileLock(str(gitops.common_dir(repo) / _LOCK_NAME)):
        repair(repo)
        yield


def repair(repo: str) -> None:
    """Undo what a kill -9 in the middle of a worktree change can leave (under the lock)."""
    admin = gitops.common_dir(repo) / "worktrees"
    _drop_half_written_admin_folders(admin)
    listing = git(repo, "worktree", "list", "--porcelain").stdout
    ours = []
    for entry in gitops.parse_worktree_list(listing):
        path = entry.get("worktree", "")
        if _ours(path) and Path(path).exists():
            ours.append(path)
        if entry.get("locked", "").strip() in _ORPHAN_LOCK_REASONS and _ours(path):
            # A `git worktree add` killed midway (its checkout may be partial). No agent
            # ever ran there: an attempt starts only once its worktree is whole.
            git(repo, "worktree", "unlock", path, check=False)
            git(repo, "worktree", "remove", "--force", path, check=False)
            if Path(path).exists():
                shutil.rmtree(path)
    _drop_unborn_admin_folders(admin, time.time())
    _prune_ours(admin)
    if ours:
        git(repo, "worktree", "repair", *ours, check=False)


def _prune_ours(admin: Path) -> None:
    """`git worktree prune`, for Houston's worktrees only: the user's own entries stay even
    while their folder is missing (a disk not mounted is no reason to forget them)."""
    with contextlib.suppress(OSError):
        for entry in admin.iterdir():
            with contextlib.suppress(OSError):
                folder = Path((entry / "gitdir").read_text().strip()).parent
                if _ours(str(folder)) and not folder.exists() and not (entry / "locked").exists():
                    shutil.rmtree(entry)


def _drop_half_written_admin_folders(admin: Path) -> None:
    """A `git worktree add` killed while it writes `commondir` leaves it empty, and every
    `git worktree list` then fails. When the admin folder names one of Houston's worktrees,
    no add can still be running (they all hold the repository's lock): drop the admin
    folder and the partial checkout."""
    with contextlib.suppress(OSError):
        for entry in admin.iterdir():
            with contextlib.suppress(OSError):
                if (
                    not _empty_or_missing(entry / "commondir")
                    or (entry / "locked").read_text().strip() not in _ORPHAN_LOCK_REASONS
                ):
                    continue
                folder = Path((entry / "gitdir").read_text().strip()).parent
                if _ours(str(folder)):
                    shutil.rmtree(entry)
                    shutil.rmtree(folder, ignore_errors=True)


def _drop_unborn_admin_folders(admin: Path, now: float) -> None:
    """A `git worktree add` killed between writing `locked` and `gitdir` (or while writing
    `gitdir`) leaves an admin folder git neither lists nor prunes. git writes the two a
    moment apart: one older than UNBORN_AGE seconds is a leftover, never a running add."""
    with contextlib.suppress(OSError):
        for entry in admin.iterdir():
            locked = entry / "locked"
            with contextlib.suppress(OSError):
                if (
                    _empty_or_missing(entry / "gitdir")
                    and locked.read_text().strip() in _ORPHAN_LOCK_REASONS
                    and now - locked.stat().st_mtime > UNBORN_AGE
                ):
                    shutil.rmtree(entry)


def _empty_or_missing(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def _ours(path: str) -> bool:
    """A worktree Houston made: `<home>/worktrees/<mission>/<task>/<attempt>` or
    `<home>/worktrees/<mission>/_integration`, in a folder that is a Houston home."""
    folder = Path(path)
    depth = 2 if folder.name == INTEGRATION else 3
    root = folder.parents[depth - 1] if len(folder.parents) >= depth else None
    return (
        root is not None
        and Home(root.parent).worktrees == root
        and Home(root.parent).missions.is_dir()
    )


def open_worktree(
    home: Path, where: MissionRepo, mission_id: str, task_id: str, attempt: int
) -> WorkspaceRecord:
    """A fresh worktree for this attempt; earlier attempts' worktrees get their work saved."""
    path = worktree_path(home, mission_id, task_id, attempt)
    branch = attempt_branch(mission_id, task_id, attempt)
    with repo_lock(where.repo):
        for earlier in sorted(path.parent.glob("*")):
            if earlier == path or not (is_decimal(earlier.name)):
                continue
            if not (earlier / ".git").exists():
                with contextlib.suppress(OSError):
                    earlier.rmdir()  # an add killed before it wrote anything: empty
                continue
            save_work(
                earlier,
                f"work left by attempt {earlier.name} of task {task_id} in mission {mission_id}",
            )
        if path.exists():  # a kill during an earlier try to make this very worktree
            save_work(path, f"left while creating attempt {attempt}")
            _remove_if_unregistered(where.repo, path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _ignore_in_enclosing_checkout(Home(home).worktrees)
            if gitops.branch_exists(where.repo, branch):
                git(where.repo, "worktree", "add", str(path), branch)
            else:
                git(where.repo, "worktree", "add", "-b", branch, str(path), where.base)
    from houston.home.coding_records import WorkspaceRecord  # not at a worker's start

    return WorkspaceRecord(branch, str(path), where.base, where.repo)


def _ignore_in_enclosing_checkout(folder: Path) -> None:
    """The default home (`./.houston`) sits inside the user's checkout: keep its worktrees
    out of the user's `git status` and `git add -A`."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Houston's attempt worktrees (each on its own branch)\n*\n")


def _remove_if_unregistered(repo: str, path: Path) -> None:
    if not (path / ".git").is_file():
        shutil.rmtree(path)  # never a worktree git knows: an interrupted checkout's files
        _prune_ours(gitops.common_dir(repo) / "worktrees")


def _clear_stale_index_lock(path: Path) -> None:
    """Our own killed git left `index.lock` in this worktree's git folder (we hold the
    repository lock, so no other Houston git runs there; the user's never do)."""
    pointer = path / ".git"
    with contextlib.suppress(OSError):
        text = pointer.read_text().strip()
        if text.startswith("gitdir:"):
            Path(text[7:].strip(), "index.lock").unlink(missing_ok=True)


def save_work(path: Path, message: str) -> str | None:
    """Commit whatever is uncommitted in a worktree of ours; the new commit or None."""
    if not (path / ".git").is_file():
        return None
    _clear_stale_index_lock(path)
    git(path, "add", "-A", ceiling=True)
    if git(path, "diff", "--cached", "--quiet", check=False, ceiling=True).returncode == 0:
        return None
    git(
        path,
        *gitops.identity_args(path),
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"houston: WIP {message}",
        ceiling=True,
    )
    return gitops.head_commit(path)


def finish_worktree(record: WorkspaceRecord, ok: bool, message: str) -> WorkspaceRecord:
    """Commit what the attempt left: a final commit on success, WIP otherwise."""
    path = Path(record.worktree)
    with repo_lock(record.repo):
        _clear_stale_index_lock(path)
        git(path, "add", "-A", ceiling=True)
        dirty = git(path, "diff", "--cached", "--quiet", check=False, ceiling=True).returncode
        if dirty:
            text = f"houston: {message}" if ok else f"houston: WIP {message}"
            git(
                path,
                *gitops.identity_args(path),
                "commit",
                "-q",
                "--no-verify",
                "-m",
                text,
                ceiling=True,
            )
        commit = gitops.head_commit(path) or record.base
        files = gitops.changed_files(path, record.base, commit)
    return replace(record, commit=commit, files=tuple(files), state="committed" if ok else "wip")


def commit_message(mission_id: str, task_id: str, attempt: int, why: str = "") -> str:
    head = f"mission {mission_id} task {task_id} attempt {attempt}"
    return f"{head} ({why})" if why else head


def run_in_worktree(job: Job, run: Callable[[], Outcome]) -> Outcome:
    """Run one attempt inside its own worktree; commit what it leaves, whatever happens.

    On success the result gains `branch`, `commit`, `base`, `files` and `worktree`.
    """
    mission_dir = Path(job.mission_dir)
    where = mission_repo(mission_dir, Path.cwd())
    record = open_worktree(home_of(mission_dir), where, job.mission_id, job.task_id, job.attempt)
    attemptfiles.write_workspace(job.attempt_dir, replace(record, state="open"))
    job.env["HOUSTON_WORKTREE"] = record.worktree
    message = commit_message(job.mission_id, job.task_id, job.attempt)
    try:
        outcome = run()
    except BaseException:
        attemptfiles.write_workspace(
            job.attempt_dir, finish_worktree(record, False, message + " (raised)")
        )
        raise
    why = "" if outcome.ok else f" ({outcome.error or 'failed'})"
    final = finish_worktree(record, outcome.ok, message + why)
    attemptfiles.write_workspace(job.attempt_dir, final)
    if outcome.ok:
        outcome.result = {
            **(outcome.result or {}),
            "branch": final.branch,
            "commit": final.commit,
            "base": final.base,
            "files": list(final.files or ()),
            "worktree": final.worktree,
        }
    return outcome


def salvage_attempt(attempt_dir: str, why: str) -> WorkspaceRecord | None:
    """Commit as WIP the work of an attempt whose worker could not (it was killed, or
    stopped with its mission); None when there is nothing to do. Call it only once the
    attempt's processes are gone."""
    try:
        record = attemptfiles.read_workspace(attempt_dir)
    except OSError:
        return None
    if record is None or record.state != "open":
        return None
    message = commit_message(*taskfiles.attempt_names(attempt_dir), why)
    final = finish_worktree(record, False, message)
    attemptfiles.write_workspace(attempt_dir, final)
    return final
