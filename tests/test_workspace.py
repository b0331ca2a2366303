"""`workspace: worktree` with any runner, no work lost, kill -9 at any point, and gc."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.claude import git, make_repo
from helpers.engine import REPO, outcome, run_engine, submit

from houston.cli.main import cli
from houston.home import taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.workspaces import gitops
from houston.workspaces.mode import wants_worktree
from houston.workspaces.workspace import (
    MissionRepo,
    attempt_branch,
    open_worktree,
    record_at_submit,
    repo_lock,
)
from houston.workspaces.worktree_gc import candidates, remove_worktrees

# -- pure -------------------------------------------------------------------------------


def test_worktree_listing_and_status_are_parsed() -> None:
    listing = (
        "worktree /r\nHEAD abc\nbranch refs/heads/main\n\n"
        "worktree /h/worktrees/m/t/1\nHEAD def\nbranch refs/heads/x\nlocked initializing\n"
        "\nworktree /gone\nHEAD 123\ndetached\nprunable gitdir file points nowhere\n"
    )
    entries = gitops.parse_worktree_list(listing)
    assert [e["worktree"] for e in entries] == ["/r", "/h/worktrees/m/t/1", "/gone"]
    assert entries[1]["locked"] == "initializing" and "prunable" in entries[2]
    assert gitops.conflicted_paths("b.txt\0a.txt\0") == ["a.txt", "b.txt"]


def test_a_tasks_workspace_wins_over_its_agents() -> None:
    assert wants_worktree("worktree", {})
    assert wants_worktree(None, {"workspace": "worktree"})
    assert not wants_worktree("none", {"workspace": "worktree"})
    assert attempt_branch("m1", "fix-3", 2) == "houston/m1/tasks/fix-3/2"


def test_submit_records_repo_and_base_only_when_the_mission_asks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert record_at_submit(b"name: x\ntasks: []\n", None, repo) is None
    found = record_at_submit(b"name: x\ntasks:\n  - {id: a, workspace: worktree}\n", None, repo)
    assert found == {"repo": str(repo), "base": git(repo, "rev-parse", "HEAD").strip()}
    with pytest.raises(gitops.WorkspaceError, match="not inside a git repository"):
        record_at_submit(b"name: x\nrepo: .\n", ".", tmp_path)


# -- any runner in a worktree -------------------------------------------------------------

SHELL_MISSION = """
    name: shell in worktrees
    repo: {repo}
    tasks:
      - id: a
        agent: core/shell
        workspace: worktree
        retries: 1
        inputs:
          command: 'echo "$HOUSTON_ATTEMPT" > attempt.txt; test "$HOUSTON_ATTEMPT" = 2'
"""


def test_a_failed_attempt_keeps_its_work_and_a_retry_gets_a_fresh_worktree(
    home: Home, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    ref = submit(home, SHELL_MISSION.format(repo=repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "after submit")  # must not leak in
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = MissionStore(home).locate(ref.id).path
    failed = json.loads((taskfiles.attempt_dir(path, "a", 1) / "workspace.json").read_text())
    result = taskfiles.read_result(path, "a")
    assert result is not None and result["files"] == ["attempt.txt"]
    assert failed["state"] == "wip" and failed["worktree"] != result["worktree"]
    assert git(repo, "show", f"{failed['branch']}:attempt.txt") == "1\n"
    assert git(repo, "show", f"{result['commit']}:attempt.txt") == "2\n"
    assert git(repo, "rev-parse", f"{result['commit']}~1").strip() == result["base"]
    assert "after submit" not in git(repo, "log", "--format=%s", result["branch"])
    message = git(repo, "log", "-1", "--format=%s", result["branch"])
    assert ref.id in message and "task a" in message and "attempt 2" in message
    shown = CliRunner().invoke(cli, ["--home", str(home.root), "show", ref.id])
    assert failed["branch"] in shown.output and result["branch"] in shown.output


def test_gc_removes_worktrees_only_once_their_work_is_on_a_branch(
    home: Home, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    merge = "      - {id: merge, agent: core/merge, needs: [a]}\n"
    ref = submit(home, SHELL_MISSION.format(repo=repo) + merge)
    run_engine(home, ref)
    path = MissionStore(home).locate(ref.id).path
    merged = taskfiles.read_result(path, "merge")
    assert merged is not None and merged["merged"] == [f"houston/{ref.id}/tasks/a/2"]
    old = json.loads((taskfiles.attempt_dir(path, "a", 1) / "workspace.json").read_text())
    Path(old["worktree"], "late.txt").write_text("written after the attempt\n")
    stranger = make_repo(home.root / "worktrees" / ref.id / "x" / "9")  # not a worktree of ours
    status = json.loads((path / "status.json").read_text())
    (path / "status.json").write_text(json.dumps({**status, "finished": "2020-01-01T00:00:00Z"}))
    done = CliRunner().invoke(cli, ["--home", str(home.root), "gc", "--keep", "1d", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["missions"] == [ref.id]
    assert sorted(report["worktrees"]) == sorted(
        [
            old["worktree"],
            old["worktree"][:-1] + "2",
            str(home.root / "worktrees" / ref.id / "_integration"),
        ]
    )
    assert git(repo, "show", f"houston/{ref.id}/integration:attempt.txt") == "2\n"
    assert str(stranger) in report["worktrees_kept"] and (stranger / "README.md").is_file()
    assert not Path(old["worktree"]).exists()
    assert git(repo, "show", f"{old['branch']}:late.txt") == "written after the attempt\n"
    assert (repo / "README.md").is_file() and git(repo, "status", "--porcelain") == ""
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_gc_never_touches_the_users_own_working_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "mine.txt").write_text("uncommitted work of the user\n")
    sweep = remove_worktrees([repo])
    assert sweep.removed == [] and str(repo) in sweep.kept
    assert (repo / "mine.txt").read_text() == "uncommitted work of the user\n"
    assert candidates(tmp_path / "none", set(), set()) == []


# -- kill -9 at any point -------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from houston.workspaces.workspace import MissionRepo, open_worktree, finish_worktree
    home, repo, base, first = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    for n in range(first, first + 1000):
        record = open_worktree(home, MissionRepo(repo, base), "m", "t", n)
        Path(record.worktree, f"f{n}.txt").write_text("x" * 100000)
        finish_worktree(record, n % 2 == 0, f"attempt {n}")
        print(n, flush=True)
""")


def _inside_git(repo: Path, name: str) -> bool:
    """A file `name` (`locked`: a worktree being added; `index.lock`: an index being
    written) exists in the admin folder of some linked worktree right now."""
    admin = repo / ".git" / "worktrees"
    try:
        return any((entry / name).exists() for entry in admin.iterdir())
    except OSError:
        return False


def _kill_when(child: subprocess.Popen[bytes], point: Callable[[], bool]) -> bool:
    """SIGKILL the child's whole group (it and the git it runs) as soon as `point` holds."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and child.poll() is None and not point():
        pass  # a tight loop on purpose: these windows last milliseconds
    hit = point()
    with contextlib.suppress(ProcessLookupError):  # the group is gone only if the child died
        os.killpg(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL, "the child failed on its own: see its stderr above"
    return hit


@pytest.mark.process
def test_worktree_metadata_stays_consistent_after_kill_9_at_any_point(
    home: Home, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {f"src/m{i}.py": "x = 1\n" * 200 for i in range(300)})
    base = git(repo, "rev-parse", "HEAD").strip()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    points: list[Callable[[], bool]] = [
        lambda: _inside_git(repo, "locked"),  # mid `git worktree add`
        lambda: _inside_git(repo, "index.lock"),  # mid `git add` / `git commit`
    ]
    first, hits = 1, 0
    for round_number in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home.root), str(repo), base, str(first)],
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert child.stdout is not None
        with child.stdout:
            hits += _kill_when(child, points[round_number % 2])
            done = child.stdout.read().split()
        first = max([first, *(int(n) + 1 for n in done)]) + 1
    assert hits >= 6  # most kills landed inside git, not between its calls
    with repo_lock(str(repo)):
        listing = git(repo, "worktree", "list", "--porcelain")
    assert "locked" not in listing and "prunable" not in listing
    for entry in gitops.parse_worktree_list(listing)[1:]:
        assert (Path(entry["worktree"]) / ".git").is_file()
    fresh = open_worktree(home.root, MissionRepo(str(repo), base), "m", "t", first + 1)
    assert git(Path(fresh.worktree), "status", "--porcelain") == ""
    subprocess.run(
        ["git", "-C", str(repo), "fsck", "--no-dangling"], check=True, capture_output=True
    )
    # The fresh attempt saved every earlier one: each file written is committed on its branch.
    for folder in sorted((home.root / "worktrees" / "m" / "t").iterdir()):
        assert git(folder, "status", "--porcelain") == ""
        for written in folder.glob("f*.txt"):
            assert (
                git(repo, "show", f"{attempt_branch('m', 't', int(folder.name))}:{written.name}")
                == "x" * 100000
            )


def test_an_add_killed_while_git_writes_commondir_is_cleared(home: Home, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    record = open_worktree(home.root, MissionRepo(str(repo), base), "m", "t", 1)
    admin = next((repo / ".git" / "worktrees").iterdir())
    (admin / "commondir").write_text("")  # what git leaves when killed as it writes it
    (admin / "locked").write_text("initializing\n")
    with pytest.raises(subprocess.CalledProcessError):
        git(repo, "worktree", "list")
    second = open_worktree(home.root, MissionRepo(str(repo), base), "m", "t", 2)
    assert not admin.exists() and not Path(record.worktree).exists()
    assert (Path(second.worktree) / ".git").is_file()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 2


def test_an_add_killed_before_git_wrote_its_gitdir_is_cleared_once_old(tmp_path: Path) -> None:
    from houston.workspaces.workspace import UNBORN_AGE, _drop_unborn_admin_folders

    admin = tmp_path / "worktrees"
    for name in ("old", "old-empty-gitdir", "young", "user-locked"):
        (admin / name).mkdir(parents=True)
    (admin / "old" / "locked").write_text("initializing\n")
    (admin / "old-empty-gitdir" / "locked").write_text("initializing\n")
    (admin / "old-empty-gitdir" / "gitdir").write_text("")
    (admin / "young" / "locked").write_text("initializing\n")
    (admin / "user-locked" / "locked").write_text("on a USB disk\n")
    now = time.time()
    for name in ("old", "old-empty-gitdir", "user-locked"):
        os.utime(admin / name / "locked", (now - UNBORN_AGE - 5, now - UNBORN_AGE - 5))
    _drop_unborn_admin_folders(admin, now)
    assert sorted(p.name for p in admin.iterdir()) == ["user-locked", "young"]


def test_worktrees_inside_the_users_checkout_stay_out_of_its_status(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    home = Home(repo / ".houston").ensure()
    ref = submit(home, SHELL_MISSION.format(repo=repo))
    run_engine(home, ref)
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    untracked = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert untracked and not [line for line in untracked if "/worktrees/" in line]


def test_a_repo_that_is_not_a_repository_is_refused_at_submit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from houston.cli.main import main

    mission = tmp_path / "m.yaml"
    mission.write_text(f"name: x\nrepo: {tmp_path}\ntasks:\n  - {{id: a, agent: core/shell}}\n")
    home = tmp_path / "home"
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(home), "submit", str(mission)])
    assert exited.value.code == 2 and not home.exists()
    assert f"{mission}:2: {tmp_path} is not inside a git repository" in capsys.readouterr().err


def test_the_users_own_worktree_on_a_missing_disk_is_not_pruned(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    usb = tmp_path / "usb" / "feature"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(usb))
    (tmp_path / "usb").rename(tmp_path / "usb-unmounted")  # the disk is gone for now
    with repo_lock(str(repo)):
        pass
    assert str(usb) in git(repo, "worktree", "list", "--porcelain")
