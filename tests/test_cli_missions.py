"""The mission commands end to end: in-process through `main()` and a few real processes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from houston.cli.main import main
from houston.core.errors import SpecError
from houston.core.lifecycle import MissionState, Reason
from houston.home.layout import Home
from houston.home.store import MissionStore
from houston.mission import load_mission

INVALID_DIR = Path(__file__).parent / "data" / "missions" / "invalid"
PLAIN = "name: plain\ntasks:\n  - id: a\n    agent: core/shell\n"
GATED = "name: gated\ngate: approve\ntasks:\n  - id: a\n    agent: core/shell\n"


def run(args: list[str], root: Path, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `houston ARGS` in this process with HOUSTON_HOME=root; (exit code, out, err)."""
    runner = CliRunner()
    with runner.isolation(input=stdin, env={"HOUSTON_HOME": str(root)}) as (out, err, _):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()


def tree_hash(root: Path) -> str:
    """Every path, kind and byte under `root` (or that it does not exist)."""
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames):
            digest.update(f"d {Path(dirpath, name).relative_to(root)}\n".encode())
        for name in sorted(filenames):
            path = Path(dirpath, name)
            digest.update(f"f {path.relative_to(root)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / ".houston"


@pytest.fixture
def mission_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN)
    return path


def submit(root: Path, text: str, tmp: Path, *extra: str) -> str:
    path = tmp / f"m{len(list(tmp.glob('m*.yaml')))}.yaml"
    path.write_text(text)
    code, out, err = run(["submit", "--json", *extra, str(path)], root)
    assert code == 0, err
    return str(json.loads(out)["id"])


# -- init / submit ----------------------------------------------------------------------


def test_init_creates_the_layout_and_is_idempotent(root: Path) -> None:
    assert run(["init"], root)[0] == 0
    assert Home(root).exists()
    code, out, _ = run(["init"], root)
    assert code == 0 and str(root) in out


def test_submit_without_gate_commits(root: Path, mission_file: Path) -> None:
    code, out, err = run(["submit", str(mission_file)], root)
    assert code == 0, err
    assert re.match(r"submitted \S+ -> COMMITTED", out)
    assert MissionStore(Home(root)).count(MissionState.COMMITTED) == 1


def test_submit_gated_waits_and_says_how_to_approve(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(GATED)
    code, out, _ = run(["submit", str(path)], root)
    assert code == 0 and "-> PLANNING" in out and "houston approve" in out
    code, out, _ = run(["submit", "--approve", "--json", str(path)], root)
    assert code == 0 and json.loads(out)["state"] == "COMMITTED"


def test_submit_from_stdin(root: Path) -> None:
    code, out, _ = run(["submit", "--json", "-"], root, stdin=PLAIN)
    assert code == 0 and json.loads(out)["state"] == "COMMITTED"


def test_submit_of_a_missing_file(root: Path, tmp_path: Path) -> None:
    code, _, err = run(["submit", str(tmp_path / "nope.yaml")], root)
    assert code == 2 and "nope.yaml" in err and "no such mission file" in err
    assert not root.exists()


def test_submit_of_a_folder(root: Path, tmp_path: Path) -> None:
    code, _, err = run(["submit", str(tmp_path)], root)
    assert code == 2 and "folder, not a mission file" in err
    assert not root.exists()


def test_submit_of_an_invalid_file_writes_nothing(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntasks: {id: 3}\n")
    code, out, err = run(["submit", str(path)], root)
    assert code == 2 and out == "" and "bad.yaml" in err and "Traceback" not in err
    assert not root.exists()


def test_submit_refuses_an_agent_its_installed_package_lacks(root: Path, tmp_path: Path) -> None:
    from helpers.packages import make_package

    folder = make_package(tmp_path / "src", "alpha", "1.0.0")
    assert run(["package", "install", str(folder)], root)[0] == 0
    before = tree_hash(root)
    path = tmp_path / "typo.yaml"
    path.write_text(
        "name: typo\ntasks:\n  - id: a\n    agent: core/shell\n  - id: b\n    agent: alpha/helo\n"
    )
    code, out, err = run(["submit", str(path)], root)
    assert code == 2 and out == "" and "Traceback" not in err
    assert "typo.yaml:6:12" in err and "agent 'alpha/helo'" in err
    assert str(root / "packages" / "alpha" / "1.0.0" / "agents") in err
    assert "did you mean alpha/hello?" in err
    assert tree_hash(root) == before  # nothing written
    path.write_text("name: bundled\ntasks:\n  - id: a\n    agent: core/nope\n")
    code, _, err = run(["submit", str(path)], root)
    assert code == 2 and "package 'core' has no agent 'nope'" in err and "shell" in err
    path.write_text("name: later\ntasks:\n  - id: a\n    agent: not-installed/x\n")
    assert run(["submit", str(path)], root)[0] == 0  # its package may be installed later


def test_submit_without_a_file_is_a_usage_error(root: Path) -> None:
    code, _, err = run(["submit"], root)
    assert code == 2 and "FILE" in err


# -- every file of the invalid-mission suite ------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    sorted(p for p in INVALID_DIR.glob("*") if p.is_file()) if INVALID_DIR.is_dir() else [],
    ids=lambda p: p.name,
)
def test_invalid_mission_exits_2_names_file_and_line_and_writes_nothing(
    bad: Path, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as info:
        load_mission(bad.read_bytes(), str(bad))
    line = info.value.line
    # Only a file too big to parse has no line to point at.
    assert line or "over the limit" in str(info.value), str(info.value)
    fresh = tmp_path / "fresh" / ".houston"
    code, out, err = run(["submit", str(bad)], fresh)
    assert code == 2, out
    assert f"{bad.name}:{line}" in err if line else bad.name in err, err
    assert "Traceback" not in err
    assert not fresh.parent.joinpath(".houston").exists()

    used = tmp_path / "used" / ".houston"
    submit(used, PLAIN, tmp_path)
    before = tree_hash(used)
    assert run(["submit", str(bad)], used)[0] == 2
    assert tree_hash(used) == before


# -- ls ----------------------------------------------------------------------------------


def test_read_commands_never_create_the_home(root: Path) -> None:
    for args in (["ls"], ["show", "x"], ["approve", "x"], ["reject", "x"], ["cancel", "x"]):
        code, _, err = run(args, root)
        assert code == 2 and "no Houston home" in err and "houston init" in err
    assert not root.exists()


def test_ls_of_an_empty_home(root: Path) -> None:
    run(["init"], root)
    assert run(["ls"], root)[1].strip() == "no missions"
    code, out, _ = run(["ls", "--json"], root)
    assert code == 0
    assert json.loads(out) == {"missions": [], "page": 1, "limit": 20, "total": 0}


def make_missions(root: Path, count: int) -> list[str]:
    store = MissionStore(Home(root).ensure())
    base = datetime(2026, 1, 1, tzinfo=UTC)
    spec = PLAIN.encode()
    return [store.create(spec, f"m{i}", now=base + timedelta(minutes=i)).id for i in range(count)]


def test_ls_table_is_newest_first_with_tasks_and_age(root: Path) -> None:
    ids = make_missions(root, 3)
    code, out, _ = run(["ls"], root)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "STATE", "OUTCOME", "NAME", "TASKS", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == ids[::-1]
    assert lines[1].split()[1:5] == ["PLANNING", "-", "m2", "0/0"]


def test_ls_filters_by_state_and_pages(root: Path, tmp_path: Path) -> None:
    ids = make_missions(root, 5)
    MissionStore(Home(root)).move(
        ids[0], MissionState.PLANNING, MissionState.COMPLETED, Reason.USER_REQUEST
    )
    code, out, _ = run(["ls", "--state", "completed", "--json"], root)
    listed = json.loads(out)["missions"]
    assert code == 0 and [m["id"] for m in listed] == [ids[0]]
    assert listed[0]["outcome"] == "cancelled"
    code, out, _ = run(["ls", "--state", "PLANNING", "--state", "completed"], root)
    assert len(out.splitlines()) == 6
    code, out, _ = run(["ls", "--limit", "2", "--page", "2"], root)
    assert [line.split()[0] for line in out.splitlines()[1:3]] == [ids[2], ids[1]]
    assert "page 2 of 3 (5 missions); next: houston ls --page 3" in out
    code, out, _ = run(["ls", "--limit", "2", "--page", "9"], root)
    assert code == 0 and "no missions on page 9 (there are 5)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ls", "--state", "running"], "unknown mission state"),
        (["ls", "--limit", "0"], "--limit"),
        (["ls", "--page", "x"], "--page"),
    ],
)
def test_ls_bad_options(root: Path, args: list[str], message: str) -> None:
    run(["init"], root)
    code, _, err = run(args, root)
    assert code == 2 and message in err


def test_ls_reads_the_status_of_the_page_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_missions(root, 30)
    read: list[str] = []
    original = MissionStore.status

    def spy(self: MissionStore, ref: Any) -> dict[str, Any]:
        read.append(ref.id)
        return original(self, ref)

    monkeypatch.setattr(MissionStore, "status", spy)
    code, _, _ = run(["ls", "--limit", "5"], root)
    assert code == 0 and read == ids[::-1][:5]


def test_hand_dropped_mission_shows_in_ls_and_show(root: Path) -> None:
    Home(root).ensure()
    folder = Home(root).mission_dir(MissionState.COMMITTED, "dropped-by-hand")
    folder.mkdir()
    (folder / "mission.yaml").write_text("name: Manual one\ntasks:\n  - {id: a, agent: p/a}\n")
    code, out, _ = run(["ls"], root)
    assert code == 0 and "dropped-by-hand  COMMITTED" in out and "Manual one" in out
    assert "0/1" in out
    code, out, _ = run(["show", "dropped"], root)
    assert code == 0 and "Manual one" in out and "pending" in out


# -- show --------------------------------------------------------------------------------


def test_show_by_prefix_text_and_json(root: Path, tmp_path: Path) -> None:
    mission_id = submit(root, PLAIN, tmp_path)
    code, out, _ = run(["show", mission_id[:-2]], root)
    assert code == 0
    assert f"mission  {mission_id}" in out and "COMMITTED" in out
    assert "core/shell" in out and "gate_approved" not in out and "user_request" in out
    code, out, _ = run(["show", "--json", mission_id], root)
    view = json.loads(out)
    assert view["id"] == mission_id and view["tasks"][0]["id"] == "a"
    assert [t["to"] for t in view["transitions"]] == ["PLANNING", "COMMITTED"]


def test_show_of_a_failed_mission_shows_outcome_usage_and_errors(root: Path) -> None:
    mission_id = make_missions(root, 1)[0]
    store = MissionStore(Home(root))
    store.move(mission_id, MissionState.PLANNING, MissionState.COMMITTED, Reason.USER_REQUEST)
    store.move(mission_id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    task = store.locate(mission_id).path / "tasks" / "a"
    (task / "attempts" / "1").mkdir(parents=True)
    (task / "spec.json").write_text('{"agent": "core/shell"}')
    (task / "state.json").write_text('{"state": "failed", "attempt": 1, "error": "exit 3"}')
    (task / "attempts" / "1" / "usage.json").write_text('{"tokens": 1200, "cost": 0.5}')
    (task / "attempts" / "1" / "exit.json").write_text('{"duration": 75}')
    store.update_status(store.locate(mission_id), usage={"tokens": 1200, "cost": 0.5})
    store.move(mission_id, MissionState.EXECUTING, MissionState.COMPLETED, Reason.TASK_FAILED)
    code, out, _ = run(["show", mission_id], root)
    assert code == 0
    assert "COMPLETED (failed)" in out and "1,200 tokens, $0.5000" in out
    assert "exit 3" in out and "1m15s" in out and "task_failed" in out


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("2026", "matches 2 missions"), ("1999", "no mission id starts with"), ("../x", "not a")],
)
def test_show_errors(root: Path, prefix: str, message: str) -> None:
    make_missions(root, 2)
    code, _, err = run(["show", prefix], root)
    assert code == 2 and message in err and "Traceback" not in err


# -- approve / reject / cancel -----------------------------------------------------------------


def test_approve_reject_cancel_flow(root: Path, tmp_path: Path) -> None:
    one = submit(root, GATED, tmp_path)
    two = submit(root, GATED, tmp_path)
    code, out, _ = run(["approve", one], root)
    assert code == 0 and out.strip() == f"approved {one} -> COMMITTED"
    code, out, _ = run(["reject", two], root)
    assert code == 0 and out.strip() == f"rejected {two} -> COMPLETED"
    code, out, _ = run(["cancel", one], root)
    assert code == 0 and out.strip() == f"cancelled {one} -> COMPLETED"


def test_cancel_of_a_running_mission_requests_it(root: Path, tmp_path: Path) -> None:
    mission_id = submit(root, PLAIN, tmp_path)
    store = MissionStore(Home(root))
    store.move(mission_id, MissionState.COMMITTED, MissionState.EXECUTING, Reason.CLAIMED)
    code, out, _ = run(["cancel", mission_id], root)
    assert code == 0 and "cancel requested" in out
    assert (store.locate(mission_id).path / "cancel.request").is_file()
    assert "cancel requested" in run(["show", mission_id], root)[1]


@pytest.mark.parametrize(
    ("verb", "message"),
    [
        ("approve", "not waiting in PLANNING"),
        ("reject", "not waiting in PLANNING"),
        ("cancel", "already finished"),
    ],
)
def test_verbs_on_a_finished_mission_fail_clearly(
    root: Path, tmp_path: Path, verb: str, message: str
) -> None:
    mission_id = submit(root, PLAIN, tmp_path)
    run(["cancel", mission_id], root)
    code, _, err = run([verb, mission_id], root)
    assert code == 2 and message in err and "hint:" in err


@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_verbs_on_an_unknown_mission(root: Path, verb: str) -> None:
    run(["init"], root)
    code, _, err = run([verb, "nothing"], root)
    assert code == 2 and "no mission id starts with 'nothing'" in err


def test_home_option_wins_over_the_environment(tmp_path: Path, mission_file: Path) -> None:
    chosen = tmp_path / "chosen"
    code, _, _ = run(["--home", str(chosen), "submit", str(mission_file)], tmp_path / "env")
    assert code == 0 and Home(chosen).exists() and not (tmp_path / "env").exists()


# -- real processes ------------------------------------------------------------------------------


def houston(args: list[str], root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOUSTON_HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "houston", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_real_process_exit_codes_and_no_traceback(tmp_path: Path, mission_file: Path) -> None:
    root = tmp_path / ".houston"
    missing = houston(["ls"], root, tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error:")
    assert "Traceback" not in missing.stderr and not root.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    invalid = houston(["submit", str(bad)], root, tmp_path)
    assert invalid.returncode == 2 and "bad.yaml" in invalid.stderr
    assert "Traceback" not in invalid.stderr and not root.exists()
    ok = houston(["submit", "--json", str(mission_file)], root, tmp_path)
    assert ok.returncode == 0, ok.stderr
    mission_id = json.loads(ok.stdout)["id"]
    shown = houston(["show", mission_id], root, tmp_path)
    assert shown.returncode == 0 and mission_id in shown.stdout
    usage = houston(["ls", "--bogus"], root, tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_default_home_is_dot_houston_in_the_working_folder(
    tmp_path: Path, mission_file: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HOUSTON_HOME"}
    done = subprocess.run(
        [sys.executable, "-m", "houston", "submit", str(mission_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert Home(tmp_path / ".houston").exists()


def test_show_sums_task_usage_when_the_status_has_none(root: Path) -> None:
    mission_id = make_missions(root, 1)[0]
    task = MissionStore(Home(root)).locate(mission_id).path / "tasks" / "a"
    (task / "attempts" / "1").mkdir(parents=True)
    (task / "attempts" / "1" / "usage.json").write_text('{"tokens": 30, "cost": 0.25}')
    code, out, _ = run(["show", mission_id], root)
    assert code == 0 and "30 tokens, $0.2500" in out
