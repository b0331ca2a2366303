"""Environment faults: disk full, read-only filesystem, permission denied.

Commands print what failed, where and what to do, and exit 3; the engine pauses on a full
disk and finishes once space is freed, losing nothing. The filesystems are real: a small
tmpfs mounted for the test (the suite runs as root), filled with a real file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.engine import REPO, houston_process, wait_for
from helpers.procs import alive

from houston.core.errors import EXIT_ENVIRONMENT, EnvironmentFault, environment_fault
from houston.core.lifecycle import MissionState
from houston.engine.envpause import (
    SPACE_FLOOR,
    WAITING_MARK,
    EnginePause,
    free_bytes,
    pause_delay,
    pause_message,
    wait_for_space,
)
from houston.home import fsio
from houston.home.events import EventLog
from houston.home.layout import Home
from houston.home.store import MissionStore

MISSION = (
    b"name: steady\ntasks:\n"
    b"  - {id: a, agent: core/shell, inputs: {command: 'sleep 1.5'}}\n"
    b"  - {id: b, agent: core/shell, needs: [a], inputs: {command: 'true'}}\n"
)


@contextlib.contextmanager
def small_filesystem(kind: str = "tmpfs", mib: int = 8) -> Iterator[Path]:
    """A small filesystem of our own: a 4 MiB tmpfs, or an 8 MiB ext4 image on a loop
    device (a real disk's rules: a full one refuses mkdir too). Needs root, as CI runs;
    not being able to mount fails the test. Mounted outside pytest's private (0700) temp
    folder so that another user can reach it."""
    mount_point = Path(tempfile.mkdtemp(prefix="houston-small-fs-"))
    mount_point.chmod(0o755)
    image = mount_point.with_suffix(".img")
    if kind == "ext4":
        with image.open("wb") as f:
            f.truncate(mib * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
        argv = ["mount", "-o", "loop", str(image), str(mount_point)]
    else:
        argv = ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount_point)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"cannot mount a {kind} for the test: {done.stderr}"
    try:
        mount_point.chmod(0o755)
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()
        image.unlink(missing_ok=True)


@pytest.fixture
def small_fs() -> Iterator[Path]:
    with small_filesystem("tmpfs") as mount_point:
        yield mount_point


@pytest.fixture(params=["tmpfs", "ext4"])
def any_small_fs(request: pytest.FixtureRequest) -> Iterator[Path]:
    with small_filesystem(str(request.param)) as mount_point:
        yield mount_point


def fill(folder: Path) -> Path:
    """Write a file until the filesystem refuses even one more byte; return it (delete it
    to free the space). Smaller and smaller writes take the last partial blocks too."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (65536, 4096, 512, 1):
            chunk = b"\0" * size
            for _ in range(200_000):  # bounded: far more than any test filesystem holds
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def test_a_full_ext4_disk_reads_as_full_to_root() -> None:
    """ext4 keeps clusters back even from root (its reserved_clusters: 2% of a small disk,
    up to 4096 clusters) and statvfs counts them free: 1.3 MiB on a 64 MiB disk, 16 MiB on
    a real one. A full disk must still read as full, or an agent that failed on it spends
    its retries (bench/chaos.py --disk-full found it)."""
    with small_filesystem("ext4", mib=64) as mount_point:
        fill(mount_point)
        assert free_bytes(str(mount_point)) < SPACE_FLOOR


def houston(home: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process (as `user` through setpriv if given)."""
    argv = [sys.executable, "-m", "houston", "--home", str(home), *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def said(proc: subprocess.Popen[bytes], lines: list[str], start: str) -> bool:
    """True once a line of the process's stderr starts with `start` (reads what is there)."""
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    chunk = proc.stderr.read()
    if chunk:
        lines.extend(chunk.decode().splitlines())
    return any(line.strip().startswith(start) for line in lines)


# -- the pure parts ------------------------------------------------------------------


def test_environment_errors_name_the_fault_the_path_and_the_fix() -> None:
    full = environment_fault(OSError(errno.ENOSPC, "No space left", "/h/status.json"))
    assert isinstance(full, EnvironmentFault) and full.exit_code == EXIT_ENVIRONMENT == 3
    assert str(full).startswith("/h/status.json: no space left on device")
    assert "free some space" in str(full)
    assert "read-only" in str(environment_fault(OSError(errno.EROFS, "x", "/h")))
    assert "permission denied" in str(environment_fault(OSError(errno.EACCES, "x", "/h")))
    assert environment_fault(OSError(errno.ENOENT, "x", "/h")) is None  # a defect, not the machine


def test_pause_delay_doubles_and_is_capped() -> None:
    delays = [pause_delay(n) for n in range(1, 12)]
    assert delays[:3] == [0.25, 0.5, 1.0]
    assert max(delays) == 5.0 and delays == sorted(delays)


def test_persist_waits_and_retries_only_with_a_waiter(tmp_path: Path) -> None:
    calls: list[str] = []
    naps: list[float] = []
    pause = EnginePause(lambda data: calls.append(str(data["state"])), naps.append, lambda: False)
    failures = [OSError(errno.ENOSPC, "No space left on device")] * 3

    def flaky() -> str:
        if failures:
            raise failures.pop()
        return "written"

    with pytest.raises(OSError) as raised:
        fsio.persist(flaky, tmp_path / "x.json")  # no waiter: the error, naming the path
    assert raised.value.filename == str(tmp_path / "x.json")
    fsio.set_fault_waiter(pause)
    try:
        assert fsio.persist(flaky, tmp_path / "x.json") == "written"
    finally:
        fsio.set_fault_waiter(None)
    assert calls == ["paused", "resumed"]  # one event each, however many tries
    assert naps == [0.25, 0.5]


def test_a_forced_stop_during_a_pause_gives_up_with_exit_3() -> None:
    pause = EnginePause(lambda data: None, lambda s: None, lambda: True)
    with pytest.raises(EnvironmentFault) as raised:
        pause.wait(OSError(errno.ENOSPC, "No space", "/h/events"), 1)
    assert raised.value.exit_code == 3 and "/h/events" in str(raised.value)
    line = pause_message(
        {
            "state": "paused",
            "path": "/h/x",
            "error": "no space left on device",
            "fix": "free some space",
        }
    )
    assert line is not None and "/h/x: no space left on device" in line


def test_wait_for_space_waits_only_when_the_disk_is_full(tmp_path: Path) -> None:
    naps: list[float] = []
    assert wait_for_space("/x", naps.append, lambda p: SPACE_FLOOR) is None and naps == []
    free = iter([0, 0, 0, SPACE_FLOOR * 4])
    why = wait_for_space(str(tmp_path), naps.append, lambda p: next(free))
    assert why == "no space left on device while it ran" and naps == [0.25, 0.5, 1.0]
    assert not (tmp_path / WAITING_MARK).exists()  # the mark is gone once it is over


# -- real filesystems -----------------------------------------------------------------


@pytest.mark.process
def test_submit_on_a_full_disk_exits_3_and_leaves_nothing_half_written(
    any_small_fs: Path, tmp_path: Path
) -> None:
    small_fs = any_small_fs
    home = Home(small_fs / "home").ensure()
    mission = tmp_path / "m.yaml"
    mission.write_bytes(MISSION)
    filler = fill(small_fs)
    done = houston(home.root, "submit", str(mission))
    assert done.returncode == 3, done.stderr
    assert "no space left on device" in done.stderr and str(small_fs) in done.stderr
    assert "hint: free some space" in done.stderr and "Traceback" not in done.stderr
    assert MissionStore(home).list() == [] and os.listdir(home.tmp) == []
    filler.unlink()
    assert houston(home.root, "submit", str(mission)).returncode == 0


@pytest.mark.process
def test_a_read_only_home_exits_3(small_fs: Path, tmp_path: Path) -> None:
    home = Home(small_fs / "home").ensure()
    mission = tmp_path / "m.yaml"
    mission.write_bytes(MISSION)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    done = houston(home.root, "submit", str(mission))
    assert done.returncode == 3, done.stderr
    assert "read-only filesystem" in done.stderr and "Traceback" not in done.stderr
    served = houston(home.root, "serve", "--no-ui", "--until-idle")  # says so, never waits
    assert served.returncode == 3 and "read-only filesystem" in served.stderr, served.stderr
    assert houston(home.root, "ls").returncode == 0  # reading a read-only home works


@pytest.mark.process
def test_permission_denied_exits_3(small_fs: Path) -> None:
    home = Home(small_fs / "home").ensure()  # owned by root, 0755: others may not write
    mission = small_fs / "m.yaml"
    mission.write_bytes(MISSION)
    mission.chmod(0o644)
    done = houston(home.root, "submit", str(mission), user="65534")
    assert done.returncode == 3, done.stderr
    assert "permission denied" in done.stderr and str(home.root) in done.stderr
    assert "Traceback" not in done.stderr
    mission.chmod(0o600)  # and a mission file it may not read is the same kind of fault
    unreadable = houston(small_fs / "own-home", "submit", str(mission), user="65534")
    assert unreadable.returncode == 3 and f"{mission}: permission denied" in unreadable.stderr


@pytest.mark.process
def test_serve_pauses_on_a_full_disk_and_finishes_once_space_is_freed(any_small_fs: Path) -> None:
    small_fs = any_small_fs
    home = Home(small_fs / "home").ensure()
    from houston import actions

    ref = actions.submit(MissionStore(home), MISSION, "steady.yaml")
    serve = houston_process(home, "serve", "--no-ui", "--workers", "1", "--until-idle")
    err_lines: list[str] = []
    try:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="task a to start")
        filler = fill(small_fs)
        wait_for(lambda: said(serve, err_lines, "paused:"), what="the engine to say it paused")
        assert any("no space left on device" in line for line in err_lines)
        # Keep the disk full until the agent has ended, so that its worker must wait to
        # write the attempt's record too.
        pid = json.loads(agent.read_text())["pid"]
        wait_for(lambda: not alive(pid), what="the agent to end")
        assert serve.poll() is None, "the engine died on a full disk"
        filler.unlink()
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.communicate(timeout=10)
    done = MissionStore(home).locate(ref.id)
    status = MissionStore(home).status(done)
    assert (done.state, status["outcome"]) == (MissionState.COMPLETED, "succeeded")
    for task in ("a", "b"):  # nothing was lost or run again
        assert os.listdir(done.path / "tasks" / task / "attempts") == ["1"]
        assert json.loads((done.path / "tasks" / task / "result.json").read_text()) is not None
    states = [
        e["data"].get("state") for e in EventLog(home.events).read() if e["type"] == "engine.state"
    ]
    assert "paused" in states and "resumed" in states
    assert states.index("paused") < states.index("resumed")


@pytest.mark.process
def test_an_agent_that_failed_on_a_full_disk_runs_again_without_spending_retries(
    small_fs: Path,
) -> None:
    home = Home(small_fs / "home").ensure()
    from houston import actions

    spec = (
        b"name: talkative\ntasks:\n  - {id: a, agent: core/shell, retries: 0, "
        b"inputs: {command: 'sleep 1; echo hello; echo hello >&2'}}\n"
    )
    ref = actions.submit(MissionStore(home), spec, "talkative.yaml")
    serve = houston_process(home, "serve", "--no-ui", "--workers", "1", "--until-idle")
    try:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="task a to start")
        pid = json.loads(agent.read_text())["pid"]
        filler = fill(small_fs)
        # the agent's echo meets the full disk and fails; its worker waits for space
        mark = agent.parent / WAITING_MARK
        wait_for(mark.exists, what="the worker to wait for space")
        assert not alive(pid)
        assert serve.poll() is None
        filler.unlink()
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.communicate(timeout=10)
    done = MissionStore(home).locate(ref.id)
    assert MissionStore(home).status(done)["outcome"] == "succeeded"
    attempts = done.path / "tasks" / "a" / "attempts"
    assert sorted(os.listdir(attempts)) == ["1", "2"]
    first = json.loads((attempts / "1" / "exit.json").read_text())
    assert first["reason"] == "interrupted" and "no space left" in first["error"]
    assert (attempts / "2" / "stdout.log").read_text() == "hello\n"


@pytest.mark.process
def test_a_forced_stop_of_a_paused_engine_exits_3(small_fs: Path) -> None:
    home = Home(small_fs / "home").ensure()
    from houston import actions

    ref = actions.submit(MissionStore(home), MISSION, "steady.yaml")
    serve = houston_process(home, "serve", "--no-ui", "--workers", "1")
    try:
        agent = home.mission_dir(MissionState.EXECUTING, ref.id) / "tasks/a/attempts/1/agent.json"
        wait_for(agent.exists, what="task a to start")
        fill(small_fs)
        seen: list[str] = []
        wait_for(lambda: said(serve, seen, "paused:"), what="a pause")
        # Commands beside a paused engine answer at once, they do not hang on its locks.
        assert houston(home.root, "show", ref.id).returncode == 0
        cancel = houston(home.root, "cancel", ref.id)
        assert cancel.returncode == 3 and "no space left on device" in cancel.stderr
        serve.send_signal(signal.SIGINT)  # a stop must write too: it keeps waiting
        wait_for(lambda: said(serve, seen, "SIGINT: stopping"), what="the stop request")
        assert serve.poll() is None
        serve.send_signal(signal.SIGINT)  # the second one gives up
        _out, rest = serve.communicate(timeout=30)
        err = "\n".join(seen).encode() + rest
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate(timeout=10)
    assert serve.returncode == 3, err.decode()
    assert b"no space left on device" in err and b"Traceback" not in err


@pytest.mark.process
def test_package_install_on_a_full_disk_exits_3_and_installs_nothing(small_fs: Path) -> None:
    home = Home(small_fs / "home").ensure()
    fill(small_fs)
    done = houston(home.root, "package", "install", str(REPO / "packages" / "customer-service"))
    assert done.returncode == 3, done.stderr
    assert f"{home.packages}/" in done.stderr and "no space left on device" in done.stderr
    assert [p.name for p in home.packages.iterdir() if not p.name.startswith(".")] == []


def test_the_api_answers_503_on_a_full_disk(small_fs: Path) -> None:
    import httpx

    from houston.server.launcher import start

    home = Home(small_fs / "home").ensure()
    handle = start(home, port=0)
    try:
        fill(small_fs)
        headers = {"Authorization": f"Bearer {handle.token}", "Origin": handle.base_url}
        with httpx.Client(base_url=handle.base_url, headers=headers, timeout=10) as api:
            answer = api.post("/api/missions", content=MISSION)
            listed = api.get("/api/missions")
    finally:
        handle.stop()
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "no space left on device" and str(home.root) in body["where"]
    assert "free some space" in body["fix"]
    assert listed.status_code == 200  # reading still works
