"""`houston doctor` as a real process on fresh, missing and crashed homes; its pure judges."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from houston import actions
from houston.cli.doctor import (
    FULL_DISK,
    LOW_DISK,
    Finding,
    declared_dependencies,
    exit_code,
    format_report,
    import_name,
    judge_disk,
    judge_imports,
    judge_inotify,
)
from houston.core.lifecycle import MissionState
from houston.engine.liveness import my_identity
from houston.home import fsio
from houston.home.layout import Home
from houston.home.store import MissionStore

REPO = Path(__file__).resolve().parent.parent
MISSION = b"name: left\ntasks:\n  - {id: a, agent: core/shell, inputs: {command: 'true'}}\n"

# A short-lived engine that claims a mission, records itself, and dies without cleaning up.
CRASHED_ENGINE = """
import os, sys
from pathlib import Path
from houston.home import fsio
from houston.engine.liveness import my_identity
from houston.home.layout import Home
from houston.core.lifecycle import MissionState, Reason
from houston.home.store import MissionStore
home = Home(Path(sys.argv[1]))
ref = MissionStore(home).move(sys.argv[2], MissionState.COMMITTED, MissionState.EXECUTING,
                              Reason.CLAIMED)
me = my_identity().encode()
fsio.write_json_atomic(ref.path / "engine.json", me)
record = {**me, "since": "2026-01-01T00:00:00Z", "workers": 2}
fsio.write_json_atomic(home.run / f"engine-{os.getpid()}.json", record)
print(os.getpid())
"""


def houston(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "houston", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOUSTON_HOME": str(root)},
        cwd=root.parent,
    )


def line(out: str, check: str) -> list[str]:
    """The finding lines of one check, e.g. ['ok    home  /x/.houston, ...']."""
    return [text for text in out.splitlines() if re.match(rf"(ok|warn|fail) +{check} ", text)]


def checks(out: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for item in json.loads(out)["checks"]:
        found.setdefault(item["check"], []).append(item)
    return found


@pytest.mark.process
def test_a_fresh_home_is_healthy(home: Home) -> None:
    done = houston(home.root, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert line(done.stdout, "python")[0].startswith("ok")
    assert line(done.stdout, "dependencies")[0].startswith("ok")
    expected = f"ok    home          {home.root}, missions/ on one device"
    assert line(done.stdout, "home") == [expected]
    assert line(done.stdout, "engine")[0].endswith("none running")
    assert line(done.stdout, "executing")[0].startswith("ok")
    assert line(done.stdout, "packages")[0].endswith("none installed")
    assert len(line(done.stdout, "inotify")) == len(line(done.stdout, "disk")) == 1
    as_json = houston(home.root, "doctor", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["ok"] is True


@pytest.mark.process
def test_a_missing_home_warns_how_to_create_it_and_a_file_fails(tmp_path: Path) -> None:
    root = tmp_path / ".houston"
    done = houston(root, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert line(done.stdout, "home") == [f"warn  home          {root} does not exist yet"]
    assert "fix: `houston init` creates it (so does the first `houston run`)" in done.stdout
    assert not line(done.stdout, "engine") and not root.exists()

    root.write_text("not a folder")
    broken = houston(root, "doctor", "--json")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    (home,) = checks(broken.stdout)["home"]
    assert home["level"] == "fail" and "is not a folder" in home["detail"]
    assert json.loads(broken.stdout)["ok"] is False
    assert broken.stderr.startswith("error: 1 check(s) failed: home")


@pytest.mark.process
def test_a_dead_engine_and_its_mission_are_warned_about(home: Home) -> None:
    ref = actions.submit(MissionStore(home), MISSION, "left.yaml")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHED_ENGINE, str(home.root), ref.id],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    dead_pid = int(crashed.stdout)
    me = my_identity().encode()
    fsio.write_json_atomic(home.run / f"engine-{me['pid']}.json", {**me, "workers": 1})

    done = houston(home.root, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    engines = line(done.stdout, "engine")
    assert len(engines) == 2
    dead = next(text for text in engines if f"pid {dead_pid} " in text)
    assert dead.startswith("warn") and "dead leftover" in dead
    alive = next(text for text in engines if f"pid {me['pid']} " in text)
    assert alive.startswith("ok") and "running" in alive
    assert "`houston recover` requeues what it left and removes the record" in done.stdout
    (executing,) = line(done.stdout, "executing")
    assert executing.startswith("warn") and ref.id in executing
    assert "`houston recover` requeues them; `houston serve` finishes them" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("0 failed, ")

    recovered = houston(home.root, "recover")
    assert recovered.returncode == 0
    assert f"removed the record of engine {dead_pid}: it is not running" in recovered.stdout
    after = checks(houston(home.root, "doctor", "--json").stdout)
    assert after["executing"][0]["level"] == "ok"
    assert [e["level"] for e in after["engine"]] == ["ok"]  # only the live one is left
    assert (home.run / f"engine-{me['pid']}.json").exists()
    assert MissionStore(home).locate(ref.id).state is MissionState.COMMITTED


def test_every_declared_dependency_is_checked_and_imports() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = declared_dependencies()
    assert installed is not None
    assert sorted(installed) == sorted(declared), "reinstall: pip install -e '.[test]'"
    for requirement in declared:
        importlib.import_module(import_name(requirement))
    assert import_name("pyyaml>=6") == "yaml"
    assert import_name("sse-starlette>=2.1") == "sse_starlette"


def test_a_dependency_that_does_not_import_fails_with_the_install_line(home: Home) -> None:
    """doctor, run for real with `prometheus_client` made unimportable, names it and the fix."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'prometheus_client':\n"
        "            raise ModuleNotFoundError(\"No module named 'prometheus_client'\")\n"
        "sys.meta_path.insert(0, Block())\n"
        "from houston.cli import main\n"
        "sys.argv = ['houston', 'doctor']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocker],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOUSTON_HOME": str(home.root)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    found = line(done.stdout, "dependencies")
    assert len(found) == 1 and found[0].startswith("fail"), done.stdout + done.stderr
    assert "prometheus-client" in found[0]
    assert "pip install 'prometheus-client" in done.stdout
    assert "Traceback" not in done.stderr


def test_judge_imports() -> None:
    assert judge_imports(["a>=1"], {}).level == "ok"
    missing = judge_imports(["a>=1", "b"], {"b": "ModuleNotFoundError: b"})
    assert missing.level == "fail" and "pip install 'b'" in missing.fix
    assert judge_imports(None, {}).level == "fail"


def test_judges_and_report() -> None:
    assert judge_inotify(None).level == "ok"
    assert judge_inotify(8192).level == "warn" and "sysctl" in judge_inotify(8192).fix
    assert judge_inotify(524288).level == "ok"
    where = Path("/h")
    assert [judge_disk(n, where).level for n in (LOW_DISK, LOW_DISK - 1, FULL_DISK - 1)] == [
        "ok",
        "warn",
        "fail",
    ]
    good = Finding("a", "ok", "fine")
    warn = Finding("bee", "warn", "meh", "do x")
    assert exit_code([good, warn]) == 0
    assert exit_code([good, Finding("c", "fail", "bad", "do y")]) == 1
    assert format_report([good, warn]).splitlines() == [
        "ok    a    fine",
        "warn  bee  meh",
        "           fix: do x",
        "0 failed, 1 warning(s)",
    ]
    assert format_report([good]).endswith("all good")
