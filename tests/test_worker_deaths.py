"""Workers dying: the engine never dies of it, and a worker never dies noisily of its engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.engine import (
    REPO,
    engine_thread,
    outcome,
    submit,
    wait_for,
)

from houston.engine.pool import INIT_SLOT, Pool
from houston.home import attemptfiles, claims, taskfiles
from houston.home.layout import Home
from houston.home.store import MissionStore

pytestmark = pytest.mark.process


def test_reading_a_worker_killed_earlier_in_the_same_batch_is_an_eof(tmp_path: Path) -> None:
    """The engine handles one ready pipe after another: killing a worker while handling
    another's message closes its pipe, which may still be in the batch."""
    pool = Pool(1, tmp_path / "workers.log")
    pool.start()
    try:
        worker = pool.workers[1]
        wait_for(lambda: pool.read(worker), what="ready")
        pool.kill(worker)
        assert pool.read(worker) == []
        assert worker.dead
    finally:
        pool.stop()


def test_a_worker_whose_engine_is_gone_exits_quietly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "houston.engine.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.close()  # the engine's end of the message pipe: `ready` meets EPIPE
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 0


def test_the_engine_survives_all_its_workers_dying_at_once(home: Home, tmp_path: Path) -> None:
    count = 24
    command = 'if [ "$HOUSTON_ATTEMPT" = 1 ]; then sleep 30; fi'
    tasks = "\n".join(
        f"  - {{id: t{i:02d}, agent: core/shell, retries: 0, inputs: {{command: '{command}'}}}}"
        for i in range(count)
    )
    ref = submit(home, f"name: massacre\ntasks:\n{tasks}\n")
    store = MissionStore(home)

    def all_running() -> bool:
        path = store.locate(ref.id).path
        return all(claims.read_owner(taskfiles.task_dir(path, f"t{i:02d}")) for i in range(count))

    with engine_thread(home, missions={ref.id}, workers=count) as engine:
        wait_for(all_running, timeout=60, what="every task running")
        pids = [w.pid for slot, w in list(engine.pool.workers.items()) if slot != INIT_SLOT]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: ref.id in engine.finished, timeout=90, what="the mission to finish")
    assert outcome(home, ref) == ("COMPLETED", "succeeded")
    path = store.locate(ref.id).path
    for i in range(count):
        exits = [
            attemptfiles.read_exit(taskfiles.attempt_dir(path, f"t{i:02d}", n))
            for n in taskfiles.attempt_numbers(path, f"t{i:02d}")
        ]
        assert [e.reason for e in exits if e] == ["crashed", "succeeded"]
